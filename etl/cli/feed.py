"""``catalog-etl feed``: an Atom feed of recent changes, one entry per sync."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import click

from etl.cli.common import TIME, catalog_option, database, database_option, fail, handle_errors
from etl.reports.safe_text import visible


@click.command()
@click.option(
    "--since",
    type=TIME,
    default="30d",
    show_default=True,
    help="Entries for the syncs observed since then: ISO 8601 or an age (7d, 30d).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many entries, the newest.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    default="-",
    help="The file to write, replaced whole (never seen half-written); default stdout.",
)
@click.option("--title", help="The feed's title.  [default: Model catalog changes]")
@click.option(
    "--id",
    "feed_id",
    metavar="URI",
    help="The feed's id, an absolute URI such as tag:example.com,2026:models; every entry's"
    " id starts with it.  [default: tag:catalog-etl,2025:changes]",
)
@catalog_option()
@database_option
@handle_errors
def feed(
    since: datetime,
    limit: int,
    out: Path,
    title: str | None,
    feed_id: str | None,
    catalogs: tuple[str, ...],
    database_url: str | None,
) -> None:
    """Write an Atom feed of recent changes: one entry per sync that changed the catalog
    (models added, removed or returned, price changes per 1M tokens, capability and other
    changes), with ids that stay the same from one generation to the next. Over several
    catalogs, each entry's title starts with its catalog.

    \b
    Example:
        catalog-etl feed --out /var/www/html/models.xml
    """
    from etl.reports import feed as feeds

    try:
        feeds.check_feed_id(feed_id or feeds.DEFAULT_ID)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--id") from None
    if title is not None and not title.strip():
        raise click.BadParameter("the title is empty", param_hint="--title")
    with database(database_url) as engine:
        found = feeds.collect(engine, since, limit, catalogs)
    document = feeds.render(
        found.runs,
        title=title or feeds.DEFAULT_TITLE,
        feed_id=feed_id or feeds.DEFAULT_ID,
        updated=found.updated,
        named=found.named,
    )
    if str(out) == "-":
        click.echo(document, nl=False)  # bytes go out as they are
        return
    try:
        _replace(out, document)
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    click.echo(visible(f"wrote {out} ({len(found.runs)} entries)"))


def _replace(path: Path, document: bytes) -> None:
    """Write ``path`` through a temporary file beside it, so that a web server serving it
    never sends half a feed; the file keeps its permissions (a new one gets the umask's)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(document)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
