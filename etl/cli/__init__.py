"""The ``catalog-etl`` command: thin wrappers that parse options, call one library
function and print its result. One module per family of commands."""

from __future__ import annotations

import click

from etl import __version__
from etl.cli import backfill, db, read, reports, serve, sync


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="catalog-etl")
def cli() -> None:
    """Keep an exact, dated history of AI gateway model catalogs: prices, availability
    and capabilities, queryable with SQL."""


for command in (
    sync.sync,
    sync.demo,
    read.models,
    read.diff,
    read.runs,
    reports.history,
    reports.prices,
    reports.report,
    reports.chart,
    db.db,
    backfill.backfill,
    backfill.rebuild,
    serve.serve,
    serve.status,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="catalog-etl")
