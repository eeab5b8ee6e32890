"""What every command shares: time parsing, options, error handling, the database."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from etl.times import format_duration

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from etl.config import Settings
    from etl.ingest.fetch import FetchSettings
    from etl.notify.subscriptions import Subscription
    from etl.store.history import Progress

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FAILED = 1
EXIT_HELD = 3
OUTPUT_WIDTH: int | None = None
"""Columns of terminal output (``catalog-etl --width``); None: the terminal's."""
PIPE_WIDTH = 100_000
"""Width of piped output: tables are as wide as their content, never wider."""


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


def settings_from(**flags: Any) -> Settings:
    """The settings, from the command's flags (None: not given), the environment and the
    defaults. A flag's bad value is a usage error (exit 2); a variable's, a failure (exit 1)."""
    from etl.config import Settings, SettingsError

    try:
        return Settings.from_environment(
            **{name: value for name, value in flags.items() if value is not None}
        )
    except SettingsError as error:
        if error.from_flag:
            raise click.UsageError(str(error)) from None
        raise


def setting_options(*names: str) -> Callable[[F], F]:
    """Options for these settings (:class:`etl.config.Settings`), in this order: each with
    its help, its environment variable and its default, all taken from the setting. Values
    reach the command as text (or True for a switch), parsed by :func:`settings_from`."""
    from etl.config import Settings, option_name, variable_name

    declared = {setting.name: setting for setting in fields(Settings)}
    options = []
    for name in names:
        setting = declared[name]
        flag = option_name(setting)
        assert flag is not None, name
        default = setting.default
        shown = default
        if isinstance(default, timedelta):
            shown = format_duration(default)
        elif isinstance(default, float):
            shown = f"{default:g}"
        extra = f"env {variable_name(name)}"
        if shown not in (None, False):
            extra += f"; default {shown}"
        metadata = setting.metadata
        switch = str(setting.type) == "bool"
        options.append(
            click.option(
                flag,
                name,
                is_flag=switch or None,
                default=None,
                metavar=metadata["metavar"],
                type=click.Choice(metadata["choices"]) if metadata["choices"] else None,
                help=f"{metadata['help']} [{extra}]",
            )
        )

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def fetch_settings_from(settings: Settings) -> FetchSettings:
    """How ``sync --url`` and ``serve`` fetch, from the resolved settings."""
    from etl.ingest.fetch import FetchSettings

    return FetchSettings(
        total_timeout=settings.timeout,
        retries=settings.retries,
        max_bytes=settings.max_bytes,
        allow_insecure_http=settings.allow_insecure_http,
    )


def make_console(stderr: bool = False) -> Console:
    """A rich console that neither highlights nor turns ``:name:`` codes into emoji: what
    it prints is catalog text, passed through :mod:`etl.reports.safe_text`.

    Its width: ``--width``, else the terminal's; piped or redirected (and no ``COLUMNS``),
    wide enough for any table, which then takes its content's width: a model id is never
    split across lines because a pipe is not a terminal."""
    from rich.console import Console

    console = Console(
        stderr=stderr, highlight=False, soft_wrap=False, emoji=False, width=OUTPUT_WIDTH
    )
    if OUTPUT_WIDTH is None and not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console


def fail(message: str) -> None:
    from etl.reports.safe_text import styled

    # Text, not markup: messages quote user input, upstream error bodies and package names
    # such as catalog-etl[charts]; a message of several lines keeps them.
    make_console(stderr=True).print(
        styled(("error:", "red"), " ", message, newlines=True), soft_wrap=True
    )
    sys.exit(EXIT_FAILED)


def handle_errors(command: F) -> F:
    """Known failures become one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from etl.config import SettingsError
        from etl.db.engine import DatabaseURLError
        from etl.errors import SyncError
        from etl.read.catalogs import UnknownCatalog
        from etl.store.migrate import DatabaseMissing, DatabaseUnreachable, SchemaOutOfDate

        try:
            return command(*args, **kwargs)
        except UnknownCatalog as error:  # a --catalog the database lacks: a usage error
            raise click.UsageError(f"--catalog: {error}") from None
        except SQLAlchemyError as error:
            from etl.db.engine import describe_error

            fail(f"database error: {describe_error(error)}")
        except (
            DatabaseMissing,
            DatabaseUnreachable,
            DatabaseURLError,
            SchemaOutOfDate,
            SettingsError,
            SyncError,
        ) as error:
            fail(str(error))

    return wrapper  # type: ignore[return-value]


def database_option(command: F) -> F:
    return setting_options("database_url")(command)


def source_options(command: F) -> F:
    """Where a catalog comes from and how patiently it is fetched (``sync``, ``serve``)."""
    return setting_options(
        "catalog",
        "source_url",
        "api_token_file",
        "provider",
        "timeout",
        "retries",
        "max_bytes",
        "allow_insecure_http",
    )(command)


def notify_options(command: F) -> F:
    """Who is told of the changes a sync brings (``sync``, ``serve``)."""
    return setting_options("notify", "subscriptions")(command)


def subscriptions_from(settings: Settings) -> list[Subscription]:
    """The subscriptions the settings name: bare URLs, then the file's."""
    from etl.notify.subscriptions import combined, from_urls, load_file

    urls = from_urls((settings.notify or "").split())
    listed = load_file(settings.subscriptions) if settings.subscriptions else []
    return combined(urls, listed)


def guard_options(command: F) -> F:
    """When an observation is refused or a provider held (``sync``, ``serve``, ``backfill``)."""
    return setting_options("max_removed_share", "mass_removal_floor", "max_clock_skew")(command)


def catalog_option(*, repeatable: bool = True) -> Callable[[F], F]:
    """``--catalog NAME`` on a command that reads: only that catalog (``catalogs``, a tuple,
    when ``repeatable``; else ``catalog``). A filter, unlike ``sync``'s ``--catalog``
    setting: it takes no environment variable, since a report narrowed by a variable set
    for syncs would silently leave the other catalogs out."""
    help_text = (
        "Only this catalog (as `sync --catalog` named it); repeatable. Default: every"
        " catalog, each row naming its own when the database holds several."
        if repeatable
        else "The catalog (as `sync --catalog` named it), when the database holds several."
    )
    return click.option(
        "--catalog",
        "catalogs" if repeatable else "catalog",
        multiple=repeatable,
        metavar="NAME",
        help=help_text,
    )


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
def database(database_url: str | None, *, create: bool = False) -> Iterator[Engine]:
    """An engine on a current schema, disposed (connections closed) when the command ends."""
    from etl.store.migrate import open_database

    engine = open_database(settings_from(database_url=database_url).database_url, create=create)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress bar on stderr (only when it is a terminal), one task per phase."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = make_console(stderr=True)
    bar = Progress(
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield update
