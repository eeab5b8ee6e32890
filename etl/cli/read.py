"""Commands that read the history: models, diff, runs."""

from __future__ import annotations

from datetime import datetime

import click

from etl.cli.common import (
    TIME,
    database,
    database_option,
    format_option,
    handle_errors,
    make_console,
)


@click.command()
@click.option("--as-of", type=TIME, default="now", help="Show the catalog as of this time.")
@database_option
@format_option
@handle_errors
def models(as_of: datetime, database_url: str | None, output_format: str) -> None:
    """List the models available as of a time (the latest observation at or before it)."""
    from etl import render
    from etl.queries import models_report

    with database(database_url) as engine, engine.connect() as connection:
        report = models_report(connection, as_of)
    (render.print_json if output_format == "json" else render.models)(make_console(), report)


@click.command()
@click.option("--since", type=TIME, required=True, help="Start: ISO 8601 time or an age (30d).")
@click.option("--until", type=TIME, default="now", help="End; default now.")
@database_option
@format_option
@handle_errors
def diff(since: datetime, until: datetime, database_url: str | None, output_format: str) -> None:
    """Show what changed between two times: models added and removed, prices, capabilities."""
    from etl import render
    from etl.queries import diff_report

    if since > until:
        raise click.BadParameter("--since must not be after --until", param_hint="--since")
    with database(database_url) as engine, engine.connect() as connection:
        report = diff_report(connection, since, until)
    (render.print_json if output_format == "json" else render.diff)(make_console(), report)


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@database_option
@format_option
@handle_errors
def runs(limit: int, database_url: str | None, output_format: str) -> None:
    """List sync runs, newest first: status, counts, errors."""
    from etl import render
    from etl.queries import runs_report

    with database(database_url) as engine, engine.connect() as connection:
        report = runs_report(connection, limit)
    (render.print_json if output_format == "json" else render.runs)(make_console(), report)
