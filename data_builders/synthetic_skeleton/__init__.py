"""Procedural skeleton actions (TFDS builder ``synthetic_skeleton``): the embedded default dataset."""
