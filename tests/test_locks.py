"""One sync at a time: a sync that finds another one applying is skipped, not queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock
from sqlalchemy import Engine, select

from etl.db.tables import sync_runs_table
from etl.pipeline import sync_bytes
from etl.store.locks import lock_path, sync_transaction
from tests.helpers import count_rows, make_model, payload


@contextmanager
def _held(engine: Engine) -> Iterator[None]:
    """The lock as another process would hold it. On SQLite that is the lock file alone:
    a second writer transaction in this same thread would wait on SQLite's own write lock."""
    path = lock_path(engine)
    if path is None:
        with sync_transaction(engine):
            yield
    else:
        with FileLock(path):
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
