"""The service's database connections: engines with a bounded connect time, the schema
check (or upgrade) at start, and a sync that can be cut short when the service stops."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import SQLAlchemyError

from etl.db.engine import describe_error, display_url, make_engine
from etl.errors import SyncError
from etl.store.migrate import (
    MIGRATION_LOCK_TIMEOUT,
    DatabaseMissing,
    SchemaOutOfDate,
    SchemaState,
    schema_state,
)

logger = logging.getLogger("etl.serve")

MAX_STARTUP_RETRY_DELAY = 30.0
CONNECT_TIMEOUT = 10
"""Seconds to wait for a PostgreSQL connection (unless the URL sets ``connect_timeout``): a
database that does not answer must not hold a tick, or the heartbeat, for minutes."""


class SyncInterrupted(SyncError):
    """``serve`` is stopping and the grace period is over: the sync is abandoned."""

    retryable = True


def service_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for serve's own use: a bounded connect time on PostgreSQL."""
    from etl.db.engine import parse_url

    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    return make_engine(url, **kwargs)


def migrate_database(
    engine: Engine, *, lock_timeout: float = MIGRATION_LOCK_TIMEOUT
) -> SchemaState:
    """Upgrade to the latest revision, holding the sync lock (:func:`etl.store.migrate.upgrade`)."""
    from etl.store.migrate import upgrade

    return upgrade(engine, lock_timeout=lock_timeout)


def prepare_schema(engine: Engine, *, migrate: bool, stopping: threading.Event) -> bool:
    """Check (or, with ``migrate``, upgrade) the schema, waiting with a growing pause while
    the database cannot be reached; False if ``stopping`` was set meanwhile. Raises for what
    waiting cannot fix: a missing SQLite file, a schema that is not current."""
    database = engine.url.database
    if (
        engine.dialect.name == "sqlite"
        and not migrate
        and database not in (None, "", ":memory:")
        and not Path(database).exists()
    ):
        raise DatabaseMissing(
            f"no database at {database}: run `catalog-etl db upgrade` first, or start"
            " serve with --migrate"
        )
    delay = 1.0
    while not stopping.is_set():
        try:
            _check_schema(engine, migrate=migrate)
            return True
        except SQLAlchemyError as error:
            logger.warning(
                "database %s not ready: %s; trying again in %g s",
                display_url(engine.url),
                describe_error(error),
                delay,
                extra={"fields": {"event": "database_unavailable", "retry_in": delay}},
            )
        if stopping.wait(delay):
            break
        delay = min(delay * 2, MAX_STARTUP_RETRY_DELAY)
    return False


def _check_schema(engine: Engine, *, migrate: bool) -> None:
    state = schema_state(engine)
    if state.up_to_date:
        return
    if not migrate:
        raise SchemaOutOfDate(
            f"database schema is at revision {state.current or 'none'}, this"
            f" catalog-etl needs {state.head}: run `catalog-etl db upgrade`"
            " first, or start serve with --migrate"
        )
    state = migrate_database(engine)
    logger.info(
        "database migrated to revision %s",
        state.current,
        extra={"fields": {"event": "migrated", "revision": state.current}},
    )


def interruptible(engine: Engine, interrupt: threading.Event, reason: str) -> None:
    """Make the sync's write transaction on ``engine`` fail at its next statement once
    ``interrupt`` is set, so it rolls back and its run is recorded ``failed`` with ``reason``.

    Only the write transaction is cut (recognised by the ``sqlite_immediate`` option that
    :func:`etl.db.engine.write_transaction` sets on both backends): the run row's own
    bookkeeping still goes through, and only the first statement after the interrupt fails.
    """
    armed = [True]

    def before_cursor_execute(connection: Connection, *_: Any) -> None:
        if (
            armed[0]
            and interrupt.is_set()
            and connection.get_execution_options().get("sqlite_immediate")
        ):
            armed[0] = False
            raise SyncInterrupted(reason)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)


def track_writes(engine: Engine, writing: threading.Event) -> None:
    """Keep ``writing`` set while a write transaction on ``engine`` is open (the one a sync
    applies in, which on SQLite holds the database's write lock from its start)."""

    def begin(connection: Connection) -> None:
        if connection.get_execution_options().get("sqlite_immediate"):
            writing.set()

    def end(connection: Connection) -> None:
        if connection.get_execution_options().get("sqlite_immediate"):
            writing.clear()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)
