"""Monitoring an estate: the one-call host sweep (``sweep``), the Prometheus collector (``collector``),
the exporter's endpoint (``server``), its fleet status page (``statuspage``) and the textfile mode
(``textfile``). Needs the ``[exporter]`` extra (prometheus_client) except for ``sweep``."""
