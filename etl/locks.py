"""One sync at a time per database, across processes and machines.

* PostgreSQL: a transaction-level advisory lock (``pg_try_advisory_xact_lock``), keyed by
  the schema, taken at the start of the sync transaction and released by its commit or
  rollback, so a crashed process never leaves it behind.
* SQLite: a lock file beside the database (``catalog.db.lock``), then ``BEGIN IMMEDIATE``.

Nobody waits: a sync that finds the lock taken raises :class:`~etl.errors.SyncBusy` at
once and its run is recorded as ``skipped``; the holder is doing the work. The partial
unique indexes stay the last line of defence if the lock is ever bypassed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

from etl.db.engine import write_transaction
from etl.errors import SyncBusy

_ADVISORY = text(
    "SELECT pg_try_advisory_xact_lock(hashtext('catalog-etl sync ' || current_schema()))"
)


def lock_path(engine: Engine) -> Path | None:
    """The lock file of a SQLite database file; None for other databases and :memory:."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return Path(f"{Path(database).expanduser().resolve()}.lock")


@contextmanager
def sync_transaction(engine: Engine) -> Iterator[Connection]:
    """The write transaction of a sync, holding the database's sync lock."""
    path = lock_path(engine)
    if path is None:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql" and not connection.scalar(_ADVISORY):
                raise SyncBusy("another sync is applying to this database now; skipped")
            yield connection
        return
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise SyncBusy(f"another sync holds {path}; skipped") from None
    try:
        with write_transaction(engine) as connection:
            yield connection
    finally:
        lock.release()
