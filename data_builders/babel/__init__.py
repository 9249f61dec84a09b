"""BABEL skeletons in the NTU-25 layout (TFDS builder ``babel``)."""
