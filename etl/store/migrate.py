"""Schema migrations (Alembic), run from Python so no ini file or checkout is needed.

Checking that a database is current costs one query: the latest revision is read from the
migration file names (``YYYYMMDD_<revision>_<slug>.py``, one linear history, see
tests/test_migrations.py), and Alembic itself is only imported to migrate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATION_LOCK_TIMEOUT = 300.0
"""Seconds a migration waits for the sync lock (a running sync, another replica migrating)."""
_REVISION_FILE = re.compile(r"^(\d{8})_([0-9a-z]+)_\w*\.py$")


class SchemaOutOfDate(RuntimeError):
    """The database is at an older schema revision than this version of catalog-etl."""


def migrations_dir() -> Path:
    """Where the migration scripts are: inside the package when installed from a wheel,
    at the top of the repository in a checkout."""
    package = Path(__file__).resolve().parents[1]  # etl/
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("catalog-etl's migrations are missing from this installation")


def head_revision() -> str:
    """The latest revision, from the migration file names: no Alembic import needed."""
    found = sorted(
        match.groups()
        for path in (migrations_dir() / "versions").iterdir()
        if (match := _REVISION_FILE.match(path.name))
    )
    if not found:
        raise FileNotFoundError("catalog-etl's migration scripts are missing")
    return found[-1][1]


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Handed over in memory: the URL may carry a password and must not land in a file.
    config.attributes["database_url"] = engine.url.render_as_string(hide_password=False)
    return config


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    fresh: bool
    """No catalog-etl tables at all: a new, empty database."""

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_revision(engine: Engine) -> str | None:
    """The revision of a database catalog-etl has set up, by a plain query: what serve
    checks at every tick. (Inspecting a fresh engine each tick would leave its dialect in
    a cache of SQLAlchemy's on PostgreSQL.) A database never set up is an error."""
    with engine.connect() as connection:
        revision: str | None = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar()
    return revision


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        tables = inspect(connection)
        current = None
        if tables.has_table("alembic_version"):
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        fresh = current is None and not tables.has_table("sync_runs")
    return SchemaState(current=current, head=head_revision(), fresh=fresh)


def upgrade(
    engine: Engine, revision: str = "head", *, lock_timeout: float = MIGRATION_LOCK_TIMEOUT
) -> SchemaState:
    """Bring the schema to ``revision`` (the latest by default). Safe to repeat.

    Runs under the sync lock, waiting up to ``lock_timeout`` seconds for it: no sync runs
    meanwhile, and replicas started together migrate one after the other."""
    from alembic import command

    from etl.errors import SyncBusy
    from etl.store.locks import sync_transaction

    config = alembic_config(engine)
    migrating = _migration_engine(engine)
    try:
        with sync_transaction(migrating, wait=lock_timeout) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            _check_foreign_keys(connection)
    except SyncBusy:
        raise SchemaOutOfDate(
            f"cannot migrate: another sync or migration held the lock for {lock_timeout:g} s"
        ) from None
    finally:
        if migrating is not engine:
            migrating.dispose()
    return schema_state(engine)


def _migration_engine(engine: Engine) -> Engine:
    """On SQLite, an engine with foreign keys off: a migration that rebuilds a table (the
    only way SQLite changes a constraint) drops the old one while other tables point at it.
    :func:`_check_foreign_keys` makes up for it before the commit."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine  # an in-memory database exists only on its own engine
    from etl.db.engine import make_engine

    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, sqlite_foreign_keys=False)


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            raise RuntimeError(f"migration left a broken foreign key: {tuple(broken)}")


def require_current_schema(engine: Engine, *, create_if_fresh: bool = True) -> SchemaState:
    """Check the schema before work: a brand-new database is created, an old one is refused."""
    state = schema_state(engine)
    if state.up_to_date:
        return state
    if state.fresh and create_if_fresh:
        return upgrade(engine)
    raise SchemaOutOfDate(
        f"database schema is at revision {state.current or 'none'}, this catalog-etl needs "
        f"{state.head}: run `catalog-etl db upgrade` first"
    )


class DatabaseMissing(FileNotFoundError):
    """A read-only command pointed at a SQLite file that does not exist."""


def open_database(url: str, *, create: bool = False) -> Engine:
    """An engine for ``url`` whose schema is current.

    ``create``: a missing SQLite file or an empty database gets the schema (for commands
    that write); otherwise a missing SQLite file is an error rather than a new empty file.
    """
    from etl.db.engine import describe_error, display_url, make_engine

    engine = make_engine(url)
    database = engine.url.database
    if (
        not create
        and engine.url.get_backend_name() == "sqlite"
        and database not in (None, "", ":memory:")
        and not Path(database).exists()
    ):
        raise DatabaseMissing(
            f"no database at {database}: run `catalog-etl sync` (or `catalog-etl demo`) first"
        )
    try:
        require_current_schema(engine, create_if_fresh=create)
    except SQLAlchemyError as error:
        engine.dispose()
        raise DatabaseUnreachable(
            f"cannot use database {display_url(engine.url)}: {describe_error(error)}"
        ) from None
    except SchemaOutOfDate:
        engine.dispose()
        raise
    return engine


class DatabaseUnreachable(RuntimeError):
    """The database server could not be reached or refused the connection."""
