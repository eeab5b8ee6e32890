"""The ``catalog-etl`` command: thin wrappers that parse options, call one library
function and print its result."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from etl import __version__

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from etl.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FAILED = 1


class TimeParam(click.ParamType):
    """ISO 8601 date or time (UTC unless a zone is given), ``now``, or an age like ``7d``."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from etl.times import TimeFormatError, parse_time

        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except TimeFormatError as error:
            self.fail(str(error), param, ctx)


TIME = TimeParam()


def _settings(**overrides: Any) -> Settings:
    from etl.config import Settings

    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _fail(message: str) -> None:
    _console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FAILED)


def handle_errors(command: F) -> F:
    """Known failures become one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from etl.db.engine import DatabaseURLError
        from etl.errors import SyncError
        from etl.migrate import DatabaseMissing, DatabaseUnreachable, SchemaOutOfDate

        try:
            return command(*args, **kwargs)
        except SQLAlchemyError as error:
            from etl.db.engine import describe_error

            _fail(f"database error: {describe_error(error)}")
        except (
            DatabaseMissing,
            DatabaseUnreachable,
            DatabaseURLError,
            SchemaOutOfDate,
            SyncError,
        ) as error:
            _fail(str(error))

    return wrapper  # type: ignore[return-value]


def database_option(command: F) -> F:
    return click.option(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy database URL [env CATALOG_ETL_DATABASE_URL; default sqlite:///catalog.db]",
    )(command)


def format_option(command: F) -> F:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Output format.",
    )(command)


def _open(database_url: str | None, *, create: bool = False) -> Engine:
    from etl.migrate import open_database

    return open_database(_settings(database_url=database_url).database_url, create=create)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="catalog-etl")
def cli() -> None:
    """Keep an exact, dated history of AI gateway model catalogs: prices, availability
    and capabilities, queryable with SQL."""


@cli.command()
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
@click.option(
    "--provider",
    default=None,
    help="Provider name for OpenRouter-shaped catalogs, which name none [default: openrouter].",
)
@database_option
@format_option
@handle_errors
def sync(
    file: Path | None,
    observed_at: datetime | None,
    provider: str | None,
    database_url: str | None,
    output_format: str,
) -> None:
    """Sync one catalog into the database and print what changed.

    Exit code 0 when applied (or nothing changed), 1 when the sync failed.

    \b
    Example:
        catalog-etl sync --file models.json --observed-at 2026-03-02T01:03:22Z
    """
    from etl import render
    from etl.pipeline import sync_file
    from etl.shapes import DEFAULT_PROVIDER

    if file is None:
        raise click.UsageError("give --file PATH")
    engine = _open(database_url, create=True)
    result = sync_file(engine, file, observed_at=observed_at, provider=provider or DEFAULT_PROVIDER)
    console = _console()
    if output_format == "json":
        render.print_json(console, result.to_json())
    else:
        render.sync_result(console, result.to_json())
    if not result.ok:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--as-of", type=TIME, default="now", help="Show the catalog as of this time.")
@database_option
@format_option
@handle_errors
def models(as_of: datetime, database_url: str | None, output_format: str) -> None:
    """List the models available as of a time (the latest observation at or before it)."""
    from etl import render
    from etl.queries import models_report

    with _open(database_url).connect() as connection:
        report = models_report(connection, as_of)
    (render.print_json if output_format == "json" else render.models)(_console(), report)


@cli.command()
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
    with _open(database_url).connect() as connection:
        report = diff_report(connection, since, until)
    (render.print_json if output_format == "json" else render.diff)(_console(), report)


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@database_option
@format_option
@handle_errors
def runs(limit: int, database_url: str | None, output_format: str) -> None:
    """List sync runs, newest first: status, counts, errors."""
    from etl import render
    from etl.queries import runs_report

    with _open(database_url).connect() as connection:
        report = runs_report(connection, limit)
    (render.print_json if output_format == "json" else render.runs)(_console(), report)


@cli.command()
@database_option
@handle_errors
def demo(database_url: str | None) -> None:
    """Sync the bundled sample catalogs (two real OpenRouter captures, July and November
    2025) into the database, then show what changed between them."""
    from etl import render
    from etl.pipeline import sync_file
    from etl.queries import diff_report
    from etl.samples import SAMPLES

    engine = _open(database_url, create=True)
    console = _console()
    for sample in SAMPLES:
        console.print(f"syncing {sample.path.name} as observed at {sample.observed_at:%Y-%m-%d}")
        result = sync_file(engine, sample.path, observed_at=sample.observed_at)
        render.sync_result(console, result.to_json())
        if not result.ok:
            sys.exit(EXIT_FAILED)
    with engine.connect() as connection:
        report = diff_report(connection, SAMPLES[0].observed_at, SAMPLES[-1].observed_at)
    console.print(
        f"\nbetween the two: {len(report['added'])} models added, {len(report['removed'])}"
        f" removed, {len(report['price_changes'])} price changes, {len(report['changes'])}"
        " other changes.\nNext: `catalog-etl models`, `catalog-etl diff --since 2025-08-01"
        " --until 2025-12-01`, `catalog-etl runs`, or open the database with SQL."
    )


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@database_option
@handle_errors
def upgrade(database_url: str | None) -> None:
    """Create the schema or upgrade it to the latest revision (safe to repeat)."""
    from etl.db.engine import display_url, make_engine
    from etl.migrate import upgrade as run_upgrade

    url = _settings(database_url=database_url).database_url
    state = run_upgrade(make_engine(url))
    click.echo(f"{display_url(url)} is at revision {state.current} (latest)")


@db.command()
@database_option
@handle_errors
def status(database_url: str | None) -> None:
    """Show the schema revision of the database and the latest one; exit 1 if behind."""
    from etl.db.engine import display_url, make_engine
    from etl.migrate import schema_state

    url = _settings(database_url=database_url).database_url
    state = schema_state(make_engine(url))
    click.echo(f"{display_url(url)}: revision {state.current or 'none'}, latest {state.head}")
    if not state.up_to_date:
        sys.exit(EXIT_FAILED)


def main() -> None:
    cli(prog_name="catalog-etl")
