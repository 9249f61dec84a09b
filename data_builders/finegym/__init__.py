"""FineGYM 2D skeletons (TFDS builder ``finegym``)."""
