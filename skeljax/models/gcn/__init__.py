"""Graph-convolutional recognizers (ST-GCN, 2s-AGCN / AAGCN, ST-GCN++, CTR-GCN, MS-G3D, DG-STGCN) and their parts.

``graph.py`` builds adjacencies; ``units/`` holds one file per unit a block is made of (convs and
initialisers, the temporal units, each family's graph unit, the subset aggregation); ``backbone.py`` stacks
blocks, ``head.py`` classifies, ``recognizer.py`` folds clips; ``stgcn.py`` (ST-GCN, ST-GCN++) /
``agcn.py`` / ``aagcn.py`` / ``ctrgcn.py`` / ``msg3d.py`` / ``dgstgcn.py`` assemble a family.
"""
