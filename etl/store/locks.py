"""One sync at a time per database, across processes and machines.

* PostgreSQL: a transaction-level advisory lock (``pg_try_advisory_xact_lock``), keyed by
  the schema, taken at the start of the sync transaction and released by its commit or
  rollback, so a crashed process never leaves it behind.
* SQLite: a lock file beside the database (``catalog.db.lock``), then ``BEGIN IMMEDIATE``.

By default nobody waits: a sync that finds the lock taken raises
:class:`~etl.errors.SyncBusy` at once and its run is recorded as ``skipped``; the holder is
doing the work. A sync that must not be lost (a cron job, a backfill) can wait up to
``wait`` seconds for its turn. The partial unique indexes stay the last line of defence if
the lock is ever bypassed.
"""

from __future__ import annotations

import time
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
def sync_transaction(engine: Engine, *, wait: float = 0.0) -> Iterator[Connection]:
    """The write transaction of a sync, holding the database's sync lock; waits up to
    ``wait`` seconds for it, then raises :class:`~etl.errors.SyncBusy`."""
    path = lock_path(engine)
    if path is None:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                _advisory_lock(connection, wait)
            yield connection
        return
    lock = FileLock(path, timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        raise SyncBusy(f"another sync holds {path}; skipped") from None
    try:
        with write_transaction(engine) as connection:
            yield connection
    finally:
        lock.release()


def _advisory_lock(connection: Connection, wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = 0.05
    while not connection.scalar(_ADVISORY):
        if time.monotonic() + pause > deadline:
            raise SyncBusy("another sync is applying to this database now; skipped")
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
