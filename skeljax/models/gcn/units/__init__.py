"""GCN units, one per file, as PySKL's ``models/gcns/utils`` splits them (``unit_gcn``, ``unit_tcn``, ...)."""
