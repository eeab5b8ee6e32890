"""The long-running side: serve, which syncs on a schedule (``status`` is in
:mod:`etl.cli.status`)."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import click

from etl.cli.common import (
    EXIT_FAILED,
    database_option,
    guard_options,
    handle_errors,
    notify_options,
    setting_options,
    settings_from,
    source_options,
)


class DurationParam(click.ParamType):  # type: ignore[type-arg]  # generic only in stubs
    """``30s``, ``15m``, ``1h``, ``1d``, ``1h30m``, or a bare number of seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from etl.times import TimeFormatError, parse_duration

        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except TimeFormatError as error:
            self.fail(str(error), param, ctx)


DURATION = DurationParam()


@click.command()
@setting_options(
    "config",
    "every",
    "cron",
    "timezone",
    "jitter",
    "run_now",
    "migrate",
    "grace_period",
    "log_format",
    "log_level",
    "metrics_port",
    "metrics_address",
)
@guard_options
@notify_options
@source_options
@database_option
@handle_errors
def serve(**flags: Any) -> None:
    """Sync the catalog on a schedule until stopped (SIGTERM or SIGINT: exit 0); with
    --config, every catalog of the file, each on its own schedule.

    Several replicas (and cron-launched syncs) may share one database: one sync applies at a
    time and the others record a `skipped` run. The database must be at the latest schema
    revision (`catalog-etl db upgrade`), unless --migrate is given.

    Flags win over CATALOG_ETL_* variables, which win over defaults. The bearer token comes
    from CATALOG_ETL_API_TOKEN or from the file given by --token-file, never from a flag,
    which other users could read in the process list.

    \b
    Examples:
        catalog-etl serve --every 1h --url https://openrouter.ai/api/v1/models
        catalog-etl serve --cron "17 * * * *" --jitter 2m --run-now --log-format json
        catalog-etl serve --config catalog-etl.toml --migrate --metrics-port 9108
    """
    import logging

    from etl.cli.serve_jobs import file_catalogs, ignored_variables, refuse_catalog_flags
    from etl.reports.feed import database_feed
    from etl.service.metrics import Metrics
    from etl.service.scheduler import Service, ServiceConfig

    settings = settings_from(**flags)
    config_file = settings.config
    if config_file is not None:
        refuse_catalog_flags(flags)
    token_variables: set[str] = set()
    if config_file is not None:
        catalogs, token_variables = file_catalogs(config_file)
        served: dict[str, Any] = {"catalogs": catalogs}
    else:
        served = _one_catalog(settings, flags)
    config = ServiceConfig(
        database_url=settings.database_url,
        **served,
        run_now=settings.run_now,
        migrate=settings.migrate,
        grace_period=settings.grace_period.total_seconds(),
        metrics_port=settings.metrics_port,
        metrics_address=settings.metrics_address,
    )
    if settings.metrics_port is not None:
        # The metrics server also publishes the Atom feed of recent changes at /feed.xml.
        names = [entry.name for entry in config.jobs] if config.named else []
        config.metrics = Metrics(feed=database_feed(settings.database_url), catalogs=names)
    _start_logging(settings, config)
    if config_file is not None and (ignored := ignored_variables(settings, token_variables)):
        logging.getLogger("etl.serve").warning(
            "%s not read: with --config each catalog's settings come from %s",
            ", ".join(ignored),
            config_file,
            extra={"fields": {"event": "ignored_variables", "variables": ignored}},
        )
    sys.exit(_run_service(Service(config)))


def _start_logging(settings: Any, config: Any) -> None:
    """Log as the settings say, every catalog's token and the database password masked."""
    from etl.db.engine import parse_url
    from etl.service.logs import configure_logging

    configure_logging(
        settings.log_format,
        settings.log_level,
        secrets=(
            *(entry.job.token for entry in config.jobs),
            parse_url(settings.database_url).password,
        ),
    )


def _one_catalog(settings: Any, flags: dict[str, Any]) -> dict[str, Any]:
    """The schedule and job of the one catalog the options describe."""
    from etl.cli.serve_jobs import sync_job

    schedule = _schedule(settings, every_flag=flags["every"], cron_flag=flags["cron"])
    if not settings.source_url:
        raise click.UsageError("give the catalog's URL: --url URL (or CATALOG_ETL_SOURCE_URL)")
    return {"schedule": schedule, "job": sync_job(settings, settings.token())}


def _schedule(settings: Any, *, every_flag: str | None, cron_flag: str | None) -> Any:
    """The schedule the settings describe: exactly one of --every and --cron, where a flag
    wins over the other one's variable (two flags, or two variables, conflict)."""
    from etl.service.schedules import ScheduleError, parse_timezone, schedule_of

    every, cron = settings.every, settings.cron
    if every is not None and cron is not None and (every_flag is None) != (cron_flag is None):
        every, cron = (every, None) if every_flag is not None else (None, cron)
    if (every is None) == (cron is None):
        raise click.UsageError(
            "give the schedule: either --every DURATION or --cron EXPR"
            " (or CATALOG_ETL_EVERY / CATALOG_ETL_CRON)"
        )
    try:
        return schedule_of(
            every_interval=every,
            cron_expression=cron,
            timezone=parse_timezone(settings.timezone),
            jitter=settings.jitter,
        )
    except ScheduleError as error:
        raise click.UsageError(str(error)) from None


def _run_service(service: Any) -> int:
    """Run, turning what a restart cannot fix into one logged error and exit code 1 (in the
    log format chosen, rather than a traceback)."""
    import logging

    from etl.db.engine import DatabaseURLError
    from etl.store.migrate import DatabaseMissing, SchemaOutOfDate

    try:
        code: int = service.run()
    except (DatabaseMissing, DatabaseURLError, SchemaOutOfDate, OSError) as error:
        logging.getLogger("etl.serve").error(
            "cannot serve: %s", error, extra={"fields": {"event": "fatal", "error": str(error)}}
        )
        return EXIT_FAILED
    return code
