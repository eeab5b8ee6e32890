"""catalog-etl: an exact, queryable history of AI gateway model catalogs.

The command line (``catalog-etl``) is a thin layer over this package; the same
work is available from Python::

    from etl import sync_file
    from etl.store.migrate import open_database

    engine = open_database("sqlite:///catalog.db", create=True)
    result = sync_file(engine, "models.json")
    print(result.status, result.versions_written)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.config import Settings
    from etl.pipeline import SyncResult, sync_bytes, sync_file

__all__ = ["Settings", "SyncResult", "__version__", "sync_bytes", "sync_file"]

_LAZY = {
    "Settings": "etl.config",
    "SyncResult": "etl.pipeline",
    "sync_bytes": "etl.pipeline",
    "sync_file": "etl.pipeline",
}


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
