"""Service: the long-running ``catalog-etl serve``. The scheduler and its schedules, health
(``status``), Prometheus metrics and structured logs.

May import: ``etl.pipeline`` and everything below it; never ``etl.reports`` or ``etl.cli``.
"""
