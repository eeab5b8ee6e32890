"""Commands that re-derive history: backfill, rebuild."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from etl.cli.common import (
    EXIT_FAILED,
    database,
    database_option,
    format_option,
    guard_options,
    handle_errors,
    make_console,
    progress_bar,
    setting_options,
    settings_from,
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--git",
    "git_repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A git repository that commits the catalog (git scraping).",
)
@click.option("--path", "git_path", help="With --git: the catalog file inside the repository.")
@click.option(
    "--time-from",
    type=click.Choice(["name", "mtime"]),
    default="name",
    show_default=True,
    help="Where a file's observation time comes from.",
)
@click.option(
    "--time-pattern",
    metavar="FORMAT",
    help="strptime pattern for the whole file name, e.g. 'models-%Y%m%d.json'.",
)
@click.option("--strict", is_flag=True, help="Stop at the first unusable snapshot; apply nothing.")
@click.option(
    "--allow-mass-removal",
    is_flag=True,
    help="Apply snapshots even if a provider would lose more than --max-removed-share of its"
    " models.",
)
@setting_options("catalog", "provider", "max_bytes")
@guard_options
@database_option
@format_option
@handle_errors
def backfill(
    paths: tuple[Path, ...],
    git_repo: Path | None,
    git_path: str | None,
    time_from: str,
    time_pattern: str | None,
    strict: bool,
    allow_mass_removal: bool,
    output_format: str,
    **flags: Any,
) -> None:
    """Add archived snapshots to the history, in any order: files and directories of
    .json / .json.gz, or every committed version of a file in a git repository.

    Exit code 1 when any snapshot failed (the others are still applied, unless --strict).

    \b
    Examples:
        catalog-etl backfill snapshots/
        catalog-etl backfill --git ./models-repo --path models.json
    """
    from etl.backfill import backfill as run_backfill
    from etl.ingest.shapes import DEFAULT_PROVIDER
    from etl.ingest.snapshots import file_snapshots, git_snapshots

    if bool(git_repo) != bool(git_path):
        raise click.UsageError("--git and --path go together")
    if not paths and not git_repo:
        raise click.UsageError("give files or directories, or --git REPO --path FILE")
    settings = settings_from(**flags)
    snapshots = file_snapshots(
        paths,
        time_from=time_from,  # type: ignore[arg-type]
        time_pattern=time_pattern,
        max_bytes=settings.max_bytes,
    )
    if git_repo and git_path:
        snapshots += git_snapshots(git_repo, git_path, max_bytes=settings.max_bytes)
    share = None if allow_mass_removal else settings.max_removed_share
    with database(settings.database_url, create=True) as engine, progress_bar() as progress:
        report = run_backfill(
            engine,
            snapshots,
            catalog=settings.catalog,
            provider=settings.provider or DEFAULT_PROVIDER,
            strict=strict,
            max_removed_share=share,
            mass_removal_floor=settings.mass_removal_floor,
            max_clock_skew=settings.max_clock_skew,
            progress=progress,
        )
    document = report.to_json()
    if output_format == "json":
        make_console().file.write(json.dumps(document, indent=2) + "\n")
    else:
        _print_report(document)
    if report.failed:
        sys.exit(EXIT_FAILED)


def _print_report(report: dict[str, Any]) -> None:
    from etl.reports.safe_text import styled

    console = make_console()
    console.print(
        f"{report['files_read']} snapshots read: {report['applied']} applied,"
        f" {report['duplicates']} duplicates skipped, {len(report['failed'])} failed,"
        f" {len(report['held'])} held"
    )
    if report["rederived"]:
        console.print(
            f"older snapshots were merged in: {report['observations']} observations re-derived"
            " from the archive"
        )
    console.print(
        f"net change: {report['versions_written']:+d} version rows,"
        f" {report['price_rows_written']:+d} price rows"
    )
    diagnostics = make_console(stderr=True)
    for item in report["failed"]:
        line = styled(("failed:", "red"), " ", f"{item['source']}: {item['error']}")
        diagnostics.print(line, soft_wrap=True)
    for item in report["held"]:
        line = styled(("held:", "yellow"), " ", f"{item['source']}: {item['error']}")
        diagnostics.print(line, soft_wrap=True)


@click.command()
@database_option
@format_option
@handle_errors
def rebuild(database_url: str | None, output_format: str) -> None:
    """Re-derive all history from the raw payload archive, in one transaction.

    Useful after a normalization fix: nothing is lost, raw payloads are never deleted.
    """
    from etl.backfill import rebuild as run_rebuild

    with database(database_url) as engine, progress_bar() as progress:
        report = run_rebuild(engine, progress=progress)
    console = make_console()
    if output_format == "json":
        console.file.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        console.print(
            f"re-derived {report.observations} observations from the archive;"
            f" net change: {report.versions_written:+d} version rows,"
            f" {report.price_rows_written:+d} price rows"
        )
