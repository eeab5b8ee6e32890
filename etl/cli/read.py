"""Commands that read the history: models, diff."""

from __future__ import annotations

from datetime import datetime

import click

from etl.cli.common import (
    TIME,
    catalog_option,
    database,
    database_option,
    format_option,
    handle_errors,
    make_console,
)
from etl.cli.reports import (
    ALL_FORMATS,
    check_window,
    filter_options,
    formats_option,
    make_filters,
    noise_option,
)


@click.command()
@click.option("--as-of", type=TIME, default="now", help="Show the catalog as of this time.")
@catalog_option()
@database_option
@format_option
@handle_errors
def models(
    as_of: datetime, catalogs: tuple[str, ...], database_url: str | None, output_format: str
) -> None:
    """List the models available as of a time (the latest observation at or before it, of
    each catalog)."""
    from etl.read.catalogs import catalog_scope
    from etl.read.queries import models_report
    from etl.reports import terminal

    with database(database_url) as engine, engine.connect() as connection:
        report = models_report(connection, as_of, catalog_scope(connection, catalogs))
    (terminal.print_json if output_format == "json" else terminal.models)(make_console(), report)


@click.command()
@click.option(
    "--since", type=TIME, required=True, help="Start: ISO 8601 date or time, or an age (7d, 30d)."
)
@click.option("--until", type=TIME, default="now", help="End: ISO 8601 or an age; default now.")
@filter_options("Only price changes of this component (prompt, completion); repeatable.")
@click.option(
    "--sort",
    type=click.Choice(["model", "time", "movers"]),
    help="Order: by model, by time, or biggest relative price change first (movers)."
    " Default: model, or time with --events.",
)
@click.option(
    "--events",
    is_flag=True,
    help="List every observed change in the window with its time, not the net difference.",
)
@noise_option
@catalog_option()
@database_option
@formats_option(*ALL_FORMATS)
@handle_errors
def diff(
    since: datetime,
    until: datetime,
    vendor: tuple[str, ...],
    model: tuple[str, ...],
    category: tuple[str, ...],
    component: tuple[str, ...],
    sort: str | None,
    events: bool,
    include_noise: bool,
    catalogs: tuple[str, ...],
    database_url: str | None,
    output_format: str,
) -> None:
    """Show what changed between two times: models added, removed and returned, price
    changes (per unit and per 1M tokens, in percent), capability and other changes.

    \b
    Examples:
        catalog-etl diff --since 7d
        catalog-etl diff --since 2026-03-01 --until 2026-04-01 --vendor openai --sort movers
        catalog-etl diff --since 30d --events --format csv > changes.csv
    """
    from etl.cli.reports import write_output
    from etl.read.catalogs import catalog_scope
    from etl.read.change_events import change_events
    from etl.read.net_changes import net_changes
    from etl.reports import csv_out
    from etl.reports.change_document import change_document

    check_window(since, until)
    filters = make_filters(vendor, model, category, component)
    query = change_events if events else net_changes
    with database(database_url) as engine, engine.connect() as connection:
        scope = catalog_scope(connection, catalogs)
        report = query(
            connection, since, until, filters, sort, include_noise=include_noise, catalogs=scope
        )
    write_output(
        output_format,
        report,
        lambda: change_document(report),
        lambda: csv_out.changes(report),
    )
