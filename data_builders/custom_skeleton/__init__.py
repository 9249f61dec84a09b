"""Your own skeleton pickle as a TFDS dataset (builder ``custom_skeleton``)."""
