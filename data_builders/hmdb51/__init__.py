"""HMDB51 2D skeletons (TFDS builder ``hmdb51``)."""
