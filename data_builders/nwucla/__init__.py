"""NW-UCLA Multiview Action 3D skeletons (TFDS builder ``nwucla``)."""
