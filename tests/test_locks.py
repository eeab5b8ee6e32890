"""One sync at a time: a sync that finds another sync of its catalog applying is skipped,
not queued; one that finds another catalog's sync applying waits its turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from filelock import FileLock
from sqlalchemy import Engine, select

from etl.db.tables import sync_runs_table
from etl.pipeline import sync_bytes
from etl.store.locks import lock_path, sync_transaction
from tests.helpers import count_rows, make_model, payload


@contextmanager
def _held(engine: Engine, catalog: str = "default") -> Iterator[None]:
    """The locks as another process's sync of ``catalog`` would hold them. On SQLite those
    are the lock files alone: a second writer transaction in this same thread would wait on
    SQLite's own write lock."""
    if lock_path(engine) is None:
        with sync_transaction(engine, catalog=catalog):
            yield
    else:
        with ExitStack() as files:
            for path in (lock_path(engine, catalog), lock_path(engine)):
                files.enter_context(FileLock(str(path)))
            yield


class TestSyncLock:
    def test_second_sync_is_skipped_while_one_applies(self, engine: Engine) -> None:
        """While another sync holds the lock, a sync records `skipped` and writes nothing;
        once the lock is released the next sync applies."""
        with _held(engine):
            result = sync_bytes(engine, payload([make_model()]))
        assert result.status == "skipped"
        assert result.error is not None and "another sync" in result.error
        with engine.connect() as connection:
            assert connection.execute(select(sync_runs_table.c.status)).scalar_one() == "skipped"
        assert count_rows(engine)["models"] == 0
        assert sync_bytes(engine, payload([make_model()])).ok

    def test_lock_file_sits_beside_a_sqlite_database(self, engine: Engine) -> None:
        """SQLite databases lock a file next to them; PostgreSQL needs none."""
        path = lock_path(engine)
        if engine.dialect.name == "sqlite":
            assert path is not None and path.name == "catalog.db.lock"
        else:
            assert path is None

    def test_another_catalogs_sync_is_waited_for(self, engine: Engine) -> None:
        """A sync of one catalog that finds another catalog's sync applying waits for it to
        finish, then applies: writes take turns, and neither is lost."""
        holding = threading.Event()

        def hold() -> None:
            with sync_transaction(engine, catalog="other"):
                holding.set()
                time.sleep(1.0)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(10)
        started = time.monotonic()
        result = sync_bytes(engine, payload([make_model()]), catalog="default")
        waited = time.monotonic() - started
        holder.join()
        assert result.ok, result.error
        assert waited > 0.5  # it waited for the other transaction, did not skip it
