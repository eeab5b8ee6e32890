"""Sync runs: list them, and take one out of the history or release what it held."""

from __future__ import annotations

import click

from etl.cli.common import (
    catalog_option,
    database,
    database_option,
    fail,
    format_option,
    handle_errors,
    make_console,
)


@click.group(invoke_without_command=True)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="List at most this many runs.",
)
@catalog_option()
@database_option
@format_option
@click.pass_context
@handle_errors
def runs(
    ctx: click.Context,
    limit: int,
    catalogs: tuple[str, ...],
    database_url: str | None,
    output_format: str,
) -> None:
    """List sync runs, newest first: status, counts, errors (and each run's catalog, when
    the database holds several).

    \b
    Examples:
        catalog-etl runs --limit 5
        catalog-etl runs show 42        # one run in full: its error and every warning
        catalog-etl runs forget 42      # a mistaken observation out of the history
        catalog-etl runs release 43     # apply what the mass-removal guard held
    """
    if ctx.invoked_subcommand is not None:
        return
    from etl.read.catalogs import catalog_scope
    from etl.read.runs import runs_report
    from etl.reports import terminal

    with database(database_url) as engine, engine.connect() as connection:
        report = runs_report(connection, limit, catalog_scope(connection, catalogs))
    (terminal.print_json if output_format == "json" else terminal.runs)(make_console(), report)


@runs.command()
@click.argument("run_id", type=int)
@catalog_option(repeatable=False)
@database_option
@format_option
@handle_errors
def show(run_id: int, catalog: str | None, database_url: str | None, output_format: str) -> None:
    """Everything recorded about RUN_ID: its catalog, its error and every warning in full,
    the providers its catalog spoke for (and whether each said it is configured), what was
    held. With --catalog, a run of another catalog is not found."""
    from etl.read.catalogs import catalog_scope
    from etl.read.runs import RunNotFound, run_detail
    from etl.reports import terminal

    with database(database_url) as engine, engine.connect() as connection:
        scope = catalog_scope(connection, [catalog] if catalog else [])
        try:
            run = run_detail(connection, run_id, scope)
        except RunNotFound as error:
            fail(str(error))
    (terminal.print_json if output_format == "json" else terminal.run_detail)(make_console(), run)


@runs.command()
@click.argument("run_id", type=int)
@database_option
@format_option
@handle_errors
def forget(run_id: int, database_url: str | None, output_format: str) -> None:
    """Take a mistaken observation out of the history (a wrong --observed-at, a file named
    with the wrong date, a bad clock). The history becomes what it would be had RUN_ID never
    been synced; its run is marked `forgotten` and its payload stays archived."""
    from etl.store.amend import forget_run

    with database(database_url) as engine:
        _print(forget_run(engine, run_id).to_json(), output_format)


@runs.command()
@click.argument("run_id", type=int)
@database_option
@format_option
@handle_errors
def release(run_id: int, database_url: str | None, output_format: str) -> None:
    """Apply what the mass-removal guard held in RUN_ID, at the run's own time: the
    removal was real. A running serve needs no restart."""
    from etl.store.amend import release_run

    with database(database_url) as engine:
        _print(release_run(engine, run_id).to_json(), output_format)


def _print(amended: dict[str, object], output_format: str) -> None:
    from etl.reports import terminal

    console = make_console()
    if output_format == "json":
        terminal.print_json(console, amended)
        return
    console.print(
        f"run {amended['run_id']} ({amended['observed_at']}) is now {amended['status']}:"
        f" {amended['observations']} observations applied again from its time,"
        f" {amended['versions_written']:+} versions, {amended['price_rows_written']:+} price rows",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
