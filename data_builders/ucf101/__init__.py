"""UCF101 2D skeletons (TFDS builder ``ucf101``)."""
