"""NTU RGB+D 120 skeletons (TFDS builder ``ntu120``)."""
