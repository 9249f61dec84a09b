"""Graph-convolutional recognizers (ST-GCN, 2s-AGCN / AAGCN) and their parts.

``graph.py`` builds adjacencies; ``units/`` holds one file per unit a block is made of (convs and
initialisers, the temporal unit, each family's graph unit); ``backbone.py`` stacks blocks, ``head.py``
classifies, ``recognizer.py`` folds clips; ``stgcn.py`` / ``agcn.py`` / ``aagcn.py`` assemble a family.
"""
