"""NTU RGB+D 60 skeletons (TFDS builder ``ntu60``)."""
