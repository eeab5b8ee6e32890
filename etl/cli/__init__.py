"""CLI: the ``catalog-etl`` command, thin wrappers that parse options, call one library
function and print its result. One module per family of commands.

May import: everything in ``etl``; nothing imports it but ``etl.__main__``.
"""

from __future__ import annotations

import importlib

import click

COMMANDS = {
    "sync": "sync",
    "demo": "sync",
    "models": "read",
    "diff": "read",
    "runs": "runs",
    "history": "reports",
    "prices": "reports",
    "report": "reports",
    "chart": "reports",
    "compare": "compare",
    "db": "db",
    "backfill": "backfill",
    "rebuild": "backfill",
    "serve": "serve",
    "status": "status",
    "notify": "notify",
    "feed": "feed",
}
"""Each command and the module of ``etl.cli`` that defines it."""


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists it): start-up
    is most of a quick command's time."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command: click.Command = getattr(
            importlib.import_module(f"etl.cli.{COMMANDS[cmd_name]}"), cmd_name
        )
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="catalog-etl", prog_name="catalog-etl")
@click.option(
    "--width",
    type=click.IntRange(min=20),
    help="Columns of terminal output. Default: the terminal's width; piped or redirected,"
    " as wide as each table's content (COLUMNS, when set, wins).",
)
def cli(width: int | None) -> None:
    """Keep an exact, dated history of AI gateway model catalogs: prices, availability
    and capabilities, queryable with SQL."""
    from etl.cli import common

    common.OUTPUT_WIDTH = width


def main() -> None:
    cli(prog_name="catalog-etl")
