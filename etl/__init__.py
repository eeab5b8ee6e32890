"""catalog-etl: an exact, queryable history of AI gateway model catalogs.

The command line (``catalog-etl``) is a thin layer over this package; the same
work is available from Python::

    from etl import open_database, sync_file

    engine = open_database("sqlite:///catalog.db", create=True)
    result = sync_file(engine, "models.json")
    print(result.status, result.versions_written)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.config import Settings
    from etl.pipeline import SyncResult, sync_bytes, sync_file, sync_url
    from etl.read.change_events import change_events
    from etl.read.history import model_history
    from etl.read.net_changes import diff_report, net_changes
    from etl.read.prices import price_table
    from etl.read.queries import Filters
    from etl.store.migrate import open_database

_LAZY = {
    "Settings": "etl.config",
    "SyncResult": "etl.pipeline",
    "sync_bytes": "etl.pipeline",
    "sync_file": "etl.pipeline",
    "sync_url": "etl.pipeline",
    "open_database": "etl.store.migrate",
    "diff_report": "etl.read.net_changes",
    "net_changes": "etl.read.net_changes",
    "change_events": "etl.read.change_events",
    "model_history": "etl.read.history",
    "price_table": "etl.read.prices",
    "Filters": "etl.read.queries",
}
"""The public API: each name and the module that defines it (imported on first use)."""

__all__ = [
    "Filters",
    "Settings",
    "SyncResult",
    "__version__",
    "change_events",
    "diff_report",
    "model_history",
    "net_changes",
    "open_database",
    "price_table",
    "sync_bytes",
    "sync_file",
    "sync_url",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: a command pays only for what it runs (SQLAlchemy, pydantic,
    # even importlib.metadata cost tens of milliseconds each).
    if name == "__version__":
        from etl.version import package_version

        return package_version()
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'etl' has no attribute {name!r}")
