"""Kinetics-400 HRNet 2D skeletons (TFDS builder ``kinetics400``)."""
