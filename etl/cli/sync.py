"""Commands that write: sync, demo."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from etl.cli.common import (
    EXIT_FAILED,
    EXIT_HELD,
    TIME,
    database,
    database_option,
    fetch_settings_from,
    format_option,
    guard_options,
    handle_errors,
    make_console,
    notify_options,
    setting_options,
    settings_from,
    source_options,
    subscriptions_from,
)


@click.command()
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Catalog saved in a file (.json or .json.gz).",
)
@click.option(
    "--observed-at",
    type=TIME,
    help="When the catalog was observed (ISO 8601); default now.",
)
@setting_options("lock_timeout")
@click.option(
    "--allow-mass-removal",
    is_flag=True,
    help="Apply even if a provider would lose more than --max-removed-share of its models.",
)
@guard_options
@notify_options
@source_options
@database_option
@format_option
@handle_errors
def sync(
    file: Path | None,
    observed_at: datetime | None,
    allow_mass_removal: bool,
    output_format: str,
    **flags: Any,
) -> None:
    """Sync one catalog, from a file or a URL, and print what changed.

    Exit code 0 when applied (or nothing changed, or skipped because another sync was
    applying), 1 when the sync failed, 3 when the mass-removal guard held a provider (or
    all of them) because its catalog would remove too many models.

    Flags win over CATALOG_ETL_* variables, which win over defaults. The bearer token comes
    from CATALOG_ETL_API_TOKEN or from the file given by --token-file, never from a flag,
    which other users could read in the process list.

    \b
    Examples:
        catalog-etl sync --file models.json --observed-at 2026-03-02T01:03:22Z
        catalog-etl sync --url https://openrouter.ai/api/v1/models
    """
    from etl.ingest.shapes import DEFAULT_PROVIDER
    from etl.pipeline import sync_file, sync_url

    settings = settings_from(**flags)
    url = settings.source_url if file is None else flags["source_url"]
    if (file is None) == (url is None):
        raise click.UsageError("give either --file PATH or --url URL (or CATALOG_ETL_SOURCE_URL)")
    options: dict[str, Any] = {
        "catalog": settings.catalog,
        "observed_at": observed_at,
        "provider": settings.provider or DEFAULT_PROVIDER,
        "max_removed_share": None if allow_mass_removal else settings.max_removed_share,
        "mass_removal_floor": settings.mass_removal_floor,
        "max_clock_skew": settings.max_clock_skew,
        "lock_timeout": settings.lock_timeout,
        "subscriptions": subscriptions_from(settings),
    }
    with database(settings.database_url, create=True) as engine:
        if file is not None:
            result = sync_file(engine, file, max_bytes=settings.max_bytes, **options)
        else:
            assert url is not None
            fetch_settings = fetch_settings_from(settings)
            token = settings.token()
            result = sync_url(engine, url, token=token, fetch_settings=fetch_settings, **options)
        if options["subscriptions"]:
            _deliver(engine, options["subscriptions"])
    _print_result(result.to_json(), output_format)
    if result.status == "held" or result.held_providers:
        sys.exit(EXIT_HELD)
    if result.status == "failed":
        sys.exit(EXIT_FAILED)


def _deliver(engine: Any, subscriptions: Any) -> None:
    """Send what the outbox holds that is due (this sync's messages, and any a destination
    that was down still waits for); a failure is a line on stderr, the message kept."""
    from etl.notify.deliver import deliver_due
    from etl.reports.safe_text import styled

    done = deliver_due(engine, subscriptions)
    diagnostics = make_console(stderr=True)
    for failure in done.failed:
        line = styled(("notification failed:", "yellow"), " ", failure, ", kept for the next sync")
        diagnostics.print(line, soft_wrap=True)
    for name in done.unknown:
        line = styled(
            ("notification waiting:", "yellow"), f" subscription {name}", " is not configured"
        )
        diagnostics.print(line, soft_wrap=True)
    if done.delivered:
        diagnostics.print(f"{done.delivered} notifications delivered", markup=False)


def _print_result(result: dict[str, Any], output_format: str) -> None:
    """The result on stdout; a failed run's error also as one line on stderr."""
    from etl.reports import terminal as render
    from etl.reports.safe_text import styled

    console, diagnostics = make_console(), make_console(stderr=True)
    if output_format == "json":
        render.print_json(console, result)
        if result["error"]:
            diagnostics.print(styled(("error:", "red"), " ", result["error"]), soft_wrap=True)
    else:
        render.sync_result(console, result, diagnostics)


@click.command()
@database_option
@handle_errors
def demo(database_url: str | None) -> None:
    """Sync the bundled sample catalogs (two real OpenRouter captures, July and November
    2025) into the database, then show what changed between them."""
    from etl.pipeline import sync_file
    from etl.read.net_changes import diff_report
    from etl.reports import terminal as render
    from etl.samples import SAMPLES

    console = make_console()
    with database(database_url, create=True) as engine:
        for sample in SAMPLES:
            console.print(
                f"syncing {sample.path.name} as observed at {sample.observed_at:%Y-%m-%d}",
                markup=False,
            )
            # Four months apart, 28% of the models really are gone: no mass-removal guard.
            result = sync_file(
                engine, sample.path, observed_at=sample.observed_at, max_removed_share=None
            )
            render.sync_result(console, result.to_json(), make_console(stderr=True))
            if not result.ok:
                sys.exit(EXIT_FAILED)
        with engine.connect() as connection:
            report = diff_report(connection, SAMPLES[0].observed_at, SAMPLES[-1].observed_at)
    console.print(
        f"\nbetween the two: {len(report['added'])} models added, {len(report['removed'])}"
        f" removed, {len(report['price_changes'])} price changes, {len(report['changes'])}"
        " other changes.\nNext: `catalog-etl models`, `catalog-etl diff --since 2025-08-01"
        " --until 2025-12-01`, `catalog-etl runs`, or open the database with SQL.",
        markup=False,
    )
