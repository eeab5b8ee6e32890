"""Engines with the settings catalog-etl relies on, and URLs safe to print."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseURLError(ValueError):
    """A database URL that SQLAlchemy cannot use."""


SUPPORTED = "SQLite (sqlite:///PATH) and PostgreSQL (postgresql://USER@HOST/DATABASE)"
_BACKENDS = frozenset({"sqlite", "postgresql"})
# The password of a URL too broken to parse: whatever lies between a colon and an @.
_LOOSE_PASSWORD = re.compile(r"(?<=:)[^:@/]+(?=@)")


def parse_url(url: str) -> URL:
    """Parse a SQLAlchemy URL of a supported database; ``postgresql://`` means psycopg 3, the
    driver catalog-etl ships."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(
            f"not a database URL: {display_url(url)!r}; catalog-etl supports {SUPPORTED}"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in _BACKENDS:
        raise DatabaseURLError(
            f"{parsed.get_backend_name()} is not supported ({display_url(parsed)!r});"
            f" catalog-etl supports {SUPPORTED}"
        )
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with any password replaced by ``***``; text that does not parse as a URL is
    shown as given, with whatever looks like a password masked."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return _LOOSE_PASSWORD.sub("***", str(url))
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str, *, sqlite_foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """Create an engine. On SQLite: foreign keys on (unless ``sqlite_foreign_keys`` is False,
    as schema migrations that rebuild a table need), WAL, a busy timeout, and real
    transactions."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().resolve().parent
            if not folder.is_dir():
                raise DatabaseURLError(f"folder {folder} for the SQLite database does not exist")
        engine = _create(parsed, **kwargs)
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys)
        return engine
    return _create(parsed, pool_pre_ping=True, **kwargs)


def _create(url: URL, **kwargs: Any) -> Engine:
    try:
        return create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise DatabaseURLError(
            f"unknown driver {url.drivername!r} ({display_url(url)!r});"
            f" catalog-etl supports {SUPPORTED}"
        ) from None
    except ModuleNotFoundError as error:
        shipped = url.drivername.endswith("psycopg")
        extra = " (pip install 'catalog-etl[postgres]')" if shipped else ""
        raise DatabaseURLError(
            f"the driver for {url.drivername} is not installed: no module {error.name!r}{extra}"
        ) from None


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    # pysqlite's own transaction handling defers BEGIN and commits before DDL; take over so
    # that a sync (DDL included) is one real transaction.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front, so two writers queue instead of deadlocking.
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock at BEGIN."""
    connection = engine.connect().execution_options(sqlite_immediate=True)
    with connection, connection.begin():
        yield connection


def describe_error(error: SQLAlchemyError) -> str:
    """The database's own message on one line, without the SQL or its parameters."""
    original = getattr(error, "orig", None)
    message = str(original) if original is not None else str(error)
    return " ".join(message.strip().splitlines()[:1]) or type(error).__name__
