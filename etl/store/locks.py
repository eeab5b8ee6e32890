"""One sync at a time per database, across processes and machines, and per catalog.

Two locks, taken in this order:

* the catalog's: a sync that finds another sync *of its catalog* applying gives up at once
  (or after ``wait`` seconds) and its run is recorded as ``skipped``: the holder is doing
  the work;
* the database's: every write takes turns, whatever its catalog (the catalogs share
  vocabularies and the payload archive). A sync that finds *another catalog's* sync
  applying waits its turn, up to :data:`CROSS_CATALOG_WAIT` seconds (or ``wait``, if
  longer). Whole-database work (``rebuild``, ``db compact``, migrations, ``runs forget``)
  takes this lock alone.

* PostgreSQL: transaction-level advisory locks (``pg_try_advisory_xact_lock``), keyed by
  the schema (and the catalog's name), taken at the start of the transaction and released by
  its commit or rollback, so a crashed process never leaves one behind.
* SQLite: lock files beside the database (``catalog.db.lock``, and
  ``catalog.db.<catalog>.lock``), then ``BEGIN IMMEDIATE``.

The partial unique indexes stay the last line of defence if the locks are ever bypassed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

from etl.db.engine import write_transaction
from etl.errors import SyncBusy

CROSS_CATALOG_WAIT = 60.0
"""Seconds a sync waits while another catalog's sync applies, before it is skipped."""

_ADVISORY = text("SELECT pg_try_advisory_xact_lock(hashtext(:key || current_schema()))")
_DATABASE_KEY = "catalog-etl sync "


def lock_path(engine: Engine, catalog: str | None = None) -> Path | None:
    """The lock file of a SQLite database file (of one of its catalogs); None for other
    databases and :memory:."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    base = Path(database).expanduser().resolve()
    return Path(f"{base}.lock") if catalog is None else Path(f"{base}.{catalog}.lock")


@contextmanager
def sync_transaction(
    engine: Engine, *, wait: float = 0.0, catalog: str | None = None
) -> Iterator[Connection]:
    """The write transaction of a sync of ``catalog`` (of the whole database when None),
    holding the locks; raises :class:`~etl.errors.SyncBusy` when they are not free in time
    (``wait`` for the catalog's, at least :data:`CROSS_CATALOG_WAIT` for the database's)."""
    turn = max(wait, CROSS_CATALOG_WAIT) if catalog is not None else wait
    path = lock_path(engine)
    if path is None:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                if catalog is not None:
                    _advisory_lock(connection, f"{_DATABASE_KEY}{catalog} ", wait, catalog)
                _advisory_lock(connection, _DATABASE_KEY, turn, None)
            yield connection
        return
    with ExitStack() as locks:
        if catalog is not None:
            locks.enter_context(_file_lock(lock_path(engine, catalog), wait, catalog))
        locks.enter_context(_file_lock(path, turn, None))
        with write_transaction(engine) as connection:
            yield connection


@contextmanager
def _file_lock(path: Path | None, wait: float, catalog: str | None) -> Iterator[None]:
    assert path is not None
    lock = FileLock(path, timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        raise SyncBusy(_busy(catalog, f" (it holds {path})")) from None
    try:
        yield
    finally:
        lock.release()


def _advisory_lock(connection: Connection, key: str, wait: float, catalog: str | None) -> None:
    deadline = time.monotonic() + wait
    pause = 0.05
    while not connection.scalar(_ADVISORY, {"key": key}):
        if time.monotonic() + pause > deadline:
            raise SyncBusy(_busy(catalog, ""))
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _busy(catalog: str | None, holder: str) -> str:
    if catalog is None:
        return f"another sync is applying to this database now{holder}; skipped"
    return f"another sync of catalog {catalog} is applying now{holder}; skipped"
