"""Alembic environment: the stock template, with catalog-etl's metadata and database URL."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from etl.config import Settings
from etl.db.engine import make_engine, parse_url
from etl.db.tables import metadata

config = context.config

# Only the `alembic` command configures logging; `catalog-etl db upgrade` has its own.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata


def get_url() -> str:
    # Passed in by etl.store.migrate, never written into the ini (it may hold a password).
    url = config.attributes.get("database_url")
    return str(url) if url else Settings.from_environment().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=parse_url(get_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Foreign keys off on SQLite: rebuilding a table drops it while others point at it
    # (etl.store.migrate does the same, and checks the keys before committing).
    engine = make_engine(get_url(), sqlite_foreign_keys=False)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
