"""The ``catalog-etl`` command: thin wrappers that parse options, call one library
function and print its result."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
EXIT_HELD = 3


class TimeParam(click.ParamType):  # type: ignore[type-arg]  # generic only in stubs
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

        from etl.config import SettingsError
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
            SettingsError,
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


@contextmanager
def _database(database_url: str | None, *, create: bool = False) -> Iterator[Engine]:
    """An engine on a current schema, disposed (connections closed) when the command ends."""
    from etl.migrate import open_database

    engine = open_database(_settings(database_url=database_url).database_url, create=create)
    try:
        yield engine
    finally:
        engine.dispose()


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
@click.option("--url", help="Catalog URL [env CATALOG_ETL_SOURCE_URL].")
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
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds for the whole fetch, retries included [env CATALOG_ETL_TIMEOUT; default 110].",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    help="Extra attempts after timeouts, 429 and 5xx [env CATALOG_ETL_RETRIES; default 4].",
)
@click.option(
    "--allow-mass-removal",
    is_flag=True,
    help="Apply even if more than CATALOG_ETL_MAX_REMOVED_SHARE (25%) of a provider's models"
    " would be removed.",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    default=None,
    help="Allow plain http:// to hosts other than loopback.",
)
@database_option
@format_option
@handle_errors
def sync(
    file: Path | None,
    url: str | None,
    observed_at: datetime | None,
    provider: str | None,
    timeout: float | None,
    retries: int | None,
    allow_mass_removal: bool,
    allow_insecure_http: bool | None,
    database_url: str | None,
    output_format: str,
) -> None:
    """Sync one catalog, from a file or a URL, and print what changed.

    Exit code 0 when applied (or nothing changed), 1 when the sync failed, 3 when it was
    held because it would remove too many models.

    \b
    Examples:
        catalog-etl sync --file models.json --observed-at 2026-03-02T01:03:22Z
        catalog-etl sync --url https://openrouter.ai/api/v1/models
    """
    from etl import render
    from etl.fetch import FetchSettings
    from etl.pipeline import sync_file, sync_url
    from etl.shapes import DEFAULT_PROVIDER

    settings = _settings(
        database_url=database_url,
        timeout=timeout,
        retries=retries,
        allow_insecure_http=allow_insecure_http,
    )
    url = url or (settings.source_url if file is None else None)
    if (file is None) == (url is None):
        raise click.UsageError("give either --file PATH or --url URL (or CATALOG_ETL_SOURCE_URL)")
    options: dict[str, Any] = {
        "observed_at": observed_at,
        "provider": provider or DEFAULT_PROVIDER,
        "max_removed_share": None if allow_mass_removal else settings.max_removed_share,
    }
    with _database(settings.database_url, create=True) as engine:
        if file is not None:
            result = sync_file(engine, file, **options)
        else:
            assert url is not None
            fetch_settings = FetchSettings(
                total_timeout=settings.timeout,
                retries=settings.retries,
                allow_insecure_http=settings.allow_insecure_http,
            )
            token = settings.token()
            result = sync_url(engine, url, token=token, fetch_settings=fetch_settings, **options)
    console = _console()
    if output_format == "json":
        render.print_json(console, result.to_json())
    else:
        render.sync_result(console, result.to_json())
    if result.status == "held":
        sys.exit(EXIT_HELD)
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

    with _database(database_url) as engine, engine.connect() as connection:
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
    with _database(database_url) as engine, engine.connect() as connection:
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

    with _database(database_url) as engine, engine.connect() as connection:
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

    console = _console()
    with _database(database_url, create=True) as engine:
        for sample in SAMPLES:
            console.print(
                f"syncing {sample.path.name} as observed at {sample.observed_at:%Y-%m-%d}"
            )
            # Four months apart, 28% of the models really are gone: no mass-removal guard.
            result = sync_file(
                engine, sample.path, observed_at=sample.observed_at, max_removed_share=None
            )
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
    engine = make_engine(url)
    try:
        state = run_upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"{display_url(url)} is at revision {state.current} (latest)")


@db.command()
@database_option
@handle_errors
def status(database_url: str | None) -> None:
    """Show the schema revision of the database and the latest one; exit 1 if behind."""
    from etl.db.engine import display_url, make_engine
    from etl.migrate import schema_state

    url = _settings(database_url=database_url).database_url
    engine = make_engine(url)
    try:
        state = schema_state(engine)
    finally:
        engine.dispose()
    click.echo(f"{display_url(url)}: revision {state.current or 'none'}, latest {state.head}")
    if not state.up_to_date:
        sys.exit(EXIT_FAILED)


def main() -> None:
    cli(prog_name="catalog-etl")
