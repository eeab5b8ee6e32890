"""Commands that report on the history: history, prices, report, chart; and the options
and output they share with ``diff``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from etl.cli.common import (
    TIME,
    catalog_option,
    database,
    database_option,
    fail,
    handle_errors,
    make_console,
)
from etl.reports.safe_text import visible

if TYPE_CHECKING:
    from etl.read.queries import Filters
    from etl.reports.document import Document

F = TypeVar("F", bound=Callable[..., Any])
ALL_FORMATS = ("table", "markdown", "json", "csv", "html")


def formats_option(*choices: str) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        return click.option(
            "--format",
            "output_format",
            type=click.Choice(choices),
            default="table",
            show_default=True,
            help="Output format.",
        )(command)

    return decorate


def filter_options(component_help: str) -> Callable[[F], F]:
    """--vendor, --model, --category and --component, each repeatable."""

    def decorate(command: F) -> F:
        for name, metavar, help_text in reversed(
            (
                ("--vendor", "NAME", "Only this vendor (the id prefix: openai); repeatable."),
                ("--model", "GLOB", "Only model ids matching this glob (openai/*); repeatable."),
                ("--category", "NAME", "Only models in this category (text, image); repeatable."),
                ("--component", "NAME", component_help),
            )
        ):
            command = click.option(name, multiple=True, metavar=metavar, help=help_text)(command)
        return command

    return decorate


def noise_option(command: F) -> F:
    """--include-noise, for the commands that show price changes."""
    return click.option(
        "--include-noise",
        is_flag=True,
        help="List price changes smaller than one part in a million (floating-point rounding"
        " noise such as 0.0000000299999997 -> 0.00000003) with the price changes, instead of"
        " apart as rounding noise.",
    )(command)


def make_filters(
    vendor: tuple[str, ...],
    model: tuple[str, ...],
    category: tuple[str, ...],
    component: tuple[str, ...],
) -> Filters:
    from etl.read.queries import Filters

    return Filters(vendors=vendor, models=model, categories=category, components=component)


def write_output(
    output_format: str,
    result: Any,
    document: Callable[[], Document],
    csv: Callable[[], str] | None = None,
) -> None:
    """Print ``result`` in the chosen format; every format but JSON and CSV goes through
    the same document."""
    from etl.reports import html, markdown, terminal

    console = make_console()
    if output_format == "json":
        terminal.print_json(console, result.to_json())
    elif output_format == "csv" and csv is not None:
        console.file.write(csv())
    elif output_format == "markdown":
        console.file.write(markdown.render(document()))
    elif output_format == "html":
        console.file.write(html.render(document()))
    else:
        terminal.document(console, document())


def check_window(since: datetime, until: datetime) -> None:
    if since > until:
        raise click.BadParameter("--since must not be after --until", param_hint="--since")


@click.command()
@click.argument("model")
@click.option("--provider", help="The provider, when several list this model id.")
@catalog_option(repeatable=False)
@noise_option
@database_option
@formats_option("table", "markdown", "json", "html")
@handle_errors
def history(
    model: str,
    provider: str | None,
    catalog: str | None,
    include_noise: bool,
    database_url: str | None,
    output_format: str,
) -> None:
    """Show one model's timeline: when it was listed, every version with what changed, and
    every price change.

    \b
    Example:
        catalog-etl history openai/gpt-4o --format markdown
    """
    from etl.read.catalogs import catalog_scope
    from etl.read.history import ModelNotFound, model_history, price_series
    from etl.read.units import unit
    from etl.reports import charts, html
    from etl.reports.history_document import history_document

    with database(database_url) as engine, engine.connect() as connection:
        scope = catalog_scope(connection, [catalog] if catalog else [])
        try:
            timeline = model_history(
                connection, model, provider, include_noise=include_noise, catalogs=scope
            )
        except ModelNotFound as error:
            fail(str(error))
            return
        series = []
        if output_format == "html":
            series = [
                s for s in price_series(connection, [timeline.info]) if unit(s.component) == "token"
            ]
    if output_format == "html":
        svgs = [("Prices", charts.to_svg(series))] if series else []
        make_console().file.write(html.render(history_document(timeline), charts=svgs))
        return
    write_output(output_format, timeline, lambda: history_document(timeline))


@click.command()
@click.option("--as-of", type=TIME, default="now", help="Prices as of this time; default now.")
@filter_options("A price column to show (default prompt and completion); repeatable.")
@click.option(
    "--sort",
    default="model",
    show_default=True,
    metavar="KEY",
    help="model, vendor, context (largest first), or a component, cheapest first: prompt.",
)
@click.option(
    "--min-context",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only models with a context length of at least N tokens.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many models.")
@catalog_option()
@database_option
@formats_option(*ALL_FORMATS)
@handle_errors
def prices(
    as_of: datetime,
    vendor: tuple[str, ...],
    model: tuple[str, ...],
    category: tuple[str, ...],
    component: tuple[str, ...],
    sort: str,
    min_context: int | None,
    limit: int | None,
    catalogs: tuple[str, ...],
    database_url: str | None,
    output_format: str,
) -> None:
    """Show a price table per 1M tokens as of a time.

    \b
    Example:
        catalog-etl prices --sort prompt --min-context 128000 --limit 20
    """
    from etl.read.catalogs import catalog_scope
    from etl.read.prices import price_table
    from etl.reports import csv_out
    from etl.reports.price_document import price_document

    filters = make_filters(vendor, model, category, component)
    with database(database_url) as engine, engine.connect() as connection:
        table = price_table(
            connection,
            as_of,
            filters,
            sort=sort,
            min_context=min_context,
            limit=limit,
            catalogs=catalog_scope(connection, catalogs),
        )
    write_output(output_format, table, lambda: price_document(table), lambda: csv_out.prices(table))


@click.command()
@click.option("--since", type=TIME, required=True, help="Start: ISO 8601 or an age (7d, 30d).")
@click.option("--until", type=TIME, default="now", help="End; default now.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write: .html (self-contained, with charts) or .md (Markdown).",
)
@filter_options("Only price changes of this component (prompt); repeatable.")
@click.option("--events", is_flag=True, help="Every change with its time, not the net one.")
@noise_option
@click.option(
    "--charts",
    "max_charts",
    type=click.IntRange(min=0),
    default=12,
    show_default=True,
    help="Chart the prices of at most this many models, biggest movers first.",
)
@catalog_option()
@database_option
@handle_errors
def report(
    since: datetime,
    until: datetime,
    out: Path,
    vendor: tuple[str, ...],
    model: tuple[str, ...],
    category: tuple[str, ...],
    component: tuple[str, ...],
    events: bool,
    include_noise: bool,
    max_charts: int,
    catalogs: tuple[str, ...],
    database_url: str | None,
) -> None:
    """Write a report of what changed between two times, as one self-contained HTML file
    (summary, change tables, price charts) or as Markdown for a chat or a pull request.

    \b
    Example:
        catalog-etl report --since 7d --out weekly.html
    """
    from etl.read.catalogs import catalog_scope
    from etl.reports import report as reports
    from etl.reports.terminal import progress

    check_window(since, until)
    try:
        output_format = reports.report_format(out)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    filters = make_filters(vendor, model, category, component)
    with database(database_url) as engine, engine.connect() as connection:
        document = reports.build(
            connection,
            since,
            until,
            filters,
            events=events,
            max_charts=max_charts,
            include_noise=include_noise,
            catalogs=catalog_scope(connection, catalogs),
        )
    text = reports.render(document, output_format, progress)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    counts = ", ".join(f"{count} {label}" for label, count in document.summary)
    charts = f", {len(document.charts)} charts" if output_format == "html" else ""
    click.echo(visible(f"wrote {out} ({counts}{charts})"))


@click.command()
@click.argument("models", nargs=-1, required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write: .svg or .png.",
)
@click.option("--since", type=TIME, help="Start; default when each model was first seen.")
@click.option("--until", type=TIME, help="End; default the latest observation.")
@click.option(
    "--component",
    multiple=True,
    metavar="NAME",
    help="A price component to draw (default prompt and completion); repeatable.",
)
@click.option("--provider", help="The provider, when several list a model id.")
@catalog_option()
@database_option
@handle_errors
def chart(
    models: tuple[str, ...],
    out: Path,
    since: datetime | None,
    until: datetime | None,
    component: tuple[str, ...],
    provider: str | None,
    catalogs: tuple[str, ...],
    database_url: str | None,
) -> None:
    """Draw a price step chart of one or more models over time (needs matplotlib). A
    model in several of the catalogs read is drawn once per catalog, to compare them.

    \b
    Example:
        catalog-etl chart openai/gpt-4o anthropic/claude-sonnet-4 --out prices.svg
    """
    from etl.read.catalogs import catalog_scope
    from etl.read.history import ModelNotFound, find_models, price_series
    from etl.reports import charts

    if out.suffix.lower() not in charts.FORMATS:
        raise click.BadParameter(f"{out.name}: use .svg or .png", param_hint="--out")
    if not charts.available():
        fail(charts.MISSING)
    if since and until:
        check_window(since, until)
    with database(database_url) as engine, engine.connect() as connection:
        scope = catalog_scope(connection, catalogs)
        try:
            infos = [
                info for name in models for info in find_models(connection, name, provider, scope)
            ]
        except ModelNotFound as error:
            fail(str(error))
            return
        series = price_series(
            connection, infos, component or ("prompt", "completion"), since=since, until=until
        )
    if not series:
        fail("nothing to draw: no observation of these models in that window")
    try:
        charts.save(series, out)
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    click.echo(visible(f"wrote {out} ({len(series)} price lines)"))
