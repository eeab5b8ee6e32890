"""``catalog-etl compare``: the same model's price in each catalog, side by side."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

import click

from etl.cli.common import TIME, database, database_option, handle_errors
from etl.cli.reports import ALL_FORMATS, formats_option, make_filters, write_output


def _percent(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    """A non-negative decimal number of percent, read exactly."""
    if value is None:
        return None
    try:
        percent = Decimal(value.strip().removesuffix("%"))
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number of percent") from None
    if not percent.is_finite() or percent < 0:
        raise click.BadParameter(f"{value!r} is not a number of percent of 0 or more")
    return percent


@click.command()
@click.option("--as-of", type=TIME, default="now", help="Prices as of this time; default now.")
@click.option(
    "--catalog",
    multiple=True,
    metavar="NAME",
    help="A catalog to compare; repeatable, at least twice (default: every catalog).",
)
@click.option("--vendor", multiple=True, metavar="NAME", help="Only this vendor; repeatable.")
@click.option(
    "--model",
    multiple=True,
    metavar="GLOB",
    help="Only keys matching this glob, or whose model id in some catalog does"
    " (openai/*); repeatable.",
)
@click.option(
    "--component",
    multiple=True,
    metavar="NAME",
    help="A price component to compare (default prompt and completion); repeatable.",
)
@click.option(
    "--min-spread",
    callback=_percent,
    metavar="PERCENT",
    help="Only rows whose spread is at least this many percent.",
)
@database_option
@formats_option(*ALL_FORMATS)
@handle_errors
def compare(
    as_of: datetime,
    catalog: tuple[str, ...],
    vendor: tuple[str, ...],
    model: tuple[str, ...],
    component: tuple[str, ...],
    min_spread: Decimal | None,
    database_url: str | None,
    output_format: str,
) -> None:
    """Compare the same model's prices across catalogs as of a time, widest spread first.

    Models match on their key (models.match_key): vendor/name, lowercased, with '.' and '_'
    written '-'. The vendor is the id's prefix before its first '/', else the provider, so
    OpenRouter's openai/gpt-4o and LiteLLM's gpt-4o (provider openai) are both
    openai/gpt-4o, and claude-sonnet-4.5 is claude-sonnet-4-5. A suffix such as :free or a
    date keeps models apart. A key that several models of one catalog share is listed as
    ambiguous and that catalog is left out of its comparison, never guessed.

    A component is compared when at least two catalogs give it an amount: 0 when a priced
    model does not list it; dynamic and unpriced ones are shown, not compared. Spread =
    (highest - lowest) / lowest in percent, exact, shown to two places; undefined when the
    lowest is 0.

    \b
    Example:
        catalog-etl compare --catalog openrouter --catalog litellm --min-spread 10
    """
    from etl.read.compare import cross_catalog
    from etl.reports.compare_csv import compare_csv
    from etl.reports.compare_document import compare_document

    if len(set(catalog)) == 1:
        raise click.BadParameter(
            "name two catalogs or more (or none: every catalog)", param_hint="--catalog"
        )
    filters = make_filters(vendor, model, (), ())
    with database(database_url) as engine, engine.connect() as connection:
        report = cross_catalog(
            connection,
            as_of,
            catalogs=catalog,
            components=component,
            filters=filters,
            min_spread=min_spread,
        )
    write_output(
        output_format, report, lambda: compare_document(report), lambda: compare_csv(report)
    )
