"""Store: everything that writes the history. Loading a catalog, re-deriving the history
from the archive, the payload archive itself, the sync lock and schema migrations.

May import: ``etl.db``, ``etl.ingest`` and the shared modules; never ``etl.read``.
"""
