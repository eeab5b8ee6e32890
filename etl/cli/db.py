"""Schema commands: db upgrade, db status."""

from __future__ import annotations

import sys

import click

from etl.cli.common import (
    EXIT_FAILED,
    database_option,
    handle_errors,
    settings_from,
)
from etl.reports.safe_text import visible


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@database_option
@handle_errors
def upgrade(database_url: str | None) -> None:
    """Create the schema or upgrade it to the latest revision (safe to repeat)."""
    from etl.db.engine import display_url, make_engine
    from etl.store.migrate import upgrade as run_upgrade

    url = settings_from(database_url=database_url).database_url
    engine = make_engine(url)
    try:
        state = run_upgrade(engine)
    finally:
        engine.dispose()
    click.echo(visible(f"{display_url(url)} is at revision {state.current} (latest)"))


@db.command()
@database_option
@handle_errors
def status(database_url: str | None) -> None:
    """Show the schema revision of the database and the latest one; exit 1 if behind."""
    from etl.db.engine import display_url, make_engine
    from etl.store.migrate import schema_state

    url = settings_from(database_url=database_url).database_url
    engine = make_engine(url)
    try:
        state = schema_state(engine)
    finally:
        engine.dispose()
    click.echo(
        visible(f"{display_url(url)}: revision {state.current or 'none'}, latest {state.head}")
    )
    if not state.up_to_date:
        sys.exit(EXIT_FAILED)
