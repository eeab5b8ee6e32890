"""Database commands: db upgrade, db status, db stats, db compact."""

from __future__ import annotations

import sys

import click

from etl.cli.common import (
    EXIT_FAILED,
    database,
    database_option,
    format_option,
    handle_errors,
    make_console,
    progress_bar,
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


@db.command()
@database_option
@format_option
@handle_errors
def stats(database_url: str | None, output_format: str) -> None:
    """Show the rows of every table and how compact the payload archive is: bytes as
    received and as stored, the ratio, and the length of its delta chains."""
    from etl.read.stats import database_stats
    from etl.reports import terminal

    with database(database_url) as engine, engine.connect() as connection:
        report = database_stats(connection)
    console = make_console()
    if output_format == "json":
        terminal.print_json(console, report)
        return
    archive = report["archive"]
    for name, count in report["rows"].items():
        console.print(f"{name + ':':<24} {count:>12,} rows", markup=False)
    console.print(
        f"archive: {archive['payloads']:,} payloads ({archive['deltas']:,} as deltas),"
        f" {archive['bytes_raw']:,} bytes as received, {archive['bytes_stored']:,} stored"
        f" ({archive['ratio'] or '-'}x); chains of up to {archive['longest_chain']} deltas,"
        f" {archive['average_chain']} on average",
        markup=False,
        soft_wrap=True,
    )


@db.command()
@database_option
@handle_errors
def compact(database_url: str | None) -> None:
    """Store the payloads archived as frames of their own (by earlier versions) as deltas,
    in place. Memory stays flat whatever the archive's size; stopped, it keeps what it did
    and the next run carries on; `rebuild` gives the same tables afterwards."""
    from etl.store.compact import compact as run_compact

    with database(database_url) as engine, progress_bar() as update:
        report = run_compact(engine, progress=lambda done, total: update("compacting", done, total))
    make_console().print(
        f"{report.payloads:,} payloads converted: {report.stored_before:,} bytes stored"
        f" before, {report.stored_after:,} after",
        markup=False,
    )
