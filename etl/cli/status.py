"""``catalog-etl status``: is every catalog healthy? For operators and health checks."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import click

from etl.cli.common import (
    EXIT_FAILED,
    catalog_option,
    database,
    database_option,
    format_option,
    handle_errors,
    make_console,
)
from etl.cli.serve import DURATION
from etl.config import DEFAULT_MAX_FAILURES


@click.command()
@click.option(
    "--max-age",
    type=DURATION,
    help="Unhealthy when the last successful sync finished longer ago than DURATION (2h, 30m).",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_FAILURES,
    show_default=True,
    help="Unhealthy when this many runs or more failed in a row.",
)
@click.option(
    "--max-unconfigured",
    type=DURATION,
    help="Unhealthy when a provider that was configured has said it is not for longer than"
    " DURATION [default: --max-age].",
)
@catalog_option(repeatable=False)
@database_option
@format_option
@handle_errors
def status(
    max_age: timedelta | None,
    max_failures: int,
    max_unconfigured: timedelta | None,
    catalog: str | None,
    database_url: str | None,
    output_format: str,
) -> None:
    """Show the last run, the last successful run, a streak of failed runs, providers that
    say they are not configured, the models available now and the next scheduled run: for
    each catalog, when the database holds several (--catalog: that one only).

    Exit code 1 (unhealthy, every reason on stdout, naming its catalog) when --max-failures
    runs or more of a catalog failed in a row; with --max-age, when its last success is
    older than that; with --max-age or --max-unconfigured, when a provider that was
    configured has said it is not for longer.

    \b
    Examples:
        catalog-etl status
        catalog-etl status --max-age 2h --format json
        catalog-etl status --catalog litellm --max-age 1d
    """
    from etl.read.catalogs import catalog_scope
    from etl.reports import terminal as render
    from etl.service.status import status_report

    with database(database_url) as engine, engine.connect() as connection:
        report = status_report(
            connection,
            max_age=max_age,
            max_failures=max_failures,
            max_unconfigured=max_unconfigured,
            catalogs=catalog_scope(connection, [catalog] if catalog else []),
        )
    console = make_console()
    if output_format == "json":
        render.print_json(console, report)
    else:
        _print_status(console, report)
    if not report["healthy"]:
        sys.exit(EXIT_FAILED)


def _describe_run(run: dict[str, Any]) -> str:
    text = f"#{run['id']} {run['status']}, started {run['started_at']}"
    if run["duration_seconds"] is not None:
        text += f" ({run['duration_seconds']:g} s)"
    if run["status"] == "succeeded":
        text += (
            f": {run['models_seen']} models seen, {run['added']} added, {run['removed']}"
            f" removed, {run['returned']} returned, {run['price_changes']} price changes"
        )
    elif run["error"]:
        text += f": {run['error']}"
    return text


def _print_status(console: Any, report: dict[str, Any]) -> None:
    """One block per catalog when there are several (or one was asked for), then the next
    run, the services and the verdict with every reason."""
    from etl.reports.safe_text import styled

    def line(label: str, *value: object | tuple[str, str]) -> None:
        """``value``: data (the run's error quotes the gateway), shown as text."""
        console.print(styled(f"{label + ':':<18} ", *value), soft_wrap=True)

    for health in report.get("catalogs") or [report]:
        if "name" in health:
            line("catalog", (health["name"], "bold"))
        _print_catalog(line, health)
        if "name" in health:
            line("health", "ok" if health["healthy"] else ("unhealthy", "red"))
    line("next run", report["next_run_at"] or "unknown (no running serve has reported one)")
    for service in report["services"]:
        state = "stale" if service["stale"] else "running"
        line(
            "service",
            f"{service['hostname']} pid {service['pid']} ({state}): {service['schedule']};"
            f" heartbeat {service['heartbeat_at']}, next run {service['next_run_at'] or '-'}",
        )
    if report["healthy"]:
        line("health", "ok")
    for problem in report["problems"]:
        line("health", ("unhealthy", "red"), ": ", problem)


def _print_catalog(line: Any, health: dict[str, Any]) -> None:
    """The runs, providers and models of one catalog (or of the only one)."""
    from etl.service.status import describe_age

    last_run, last_success = health["last_run"], health["last_success"]
    line("last run", _describe_run(last_run) if last_run else "none")
    if last_success:
        age = describe_age(health["last_success_age_seconds"])
        line("last success", f"{_describe_run(last_success)}; finished {age} ago")
    else:
        line("last success", "none")
    failing = health["failing"]
    if failing:
        line(
            "failing",
            (f"{failing['count']} runs in a row", "red"),
            f" since {failing['since']} (last at {failing['last_at']}, run"
            f" {failing['last_run_id']}): ",
            failing["error"] or "",
        )
    for provider in health["providers"]:
        if not provider["configured"]:
            was = "; it was configured before" if provider["was_configured"] else ""
            line(
                "provider",
                f"{provider['name']}: ",
                ("not configured", "yellow"),
                f" since {provider['since']}{was}",
            )
    line("models available", str(health["models_available"]))
