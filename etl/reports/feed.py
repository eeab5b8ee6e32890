"""An Atom feed of what each sync changed (``catalog-etl feed``, ``serve``'s ``/feed.xml``),
written with feedgen.

* One entry per succeeded sync that changed something (:mod:`etl.read.run_changes`), newest
  first. Its id is built from the feed's id, the run's id and its observation time, so it
  is the same in every generation of the feed; ``updated`` is the observation time; the
  title counts the changes (``3 price cuts, 1 added``); the content (HTML) lists them:
  models added, removed and returned, price changes per 1M tokens with the percentage, and
  capability and other field changes in brief. Rounding noise (:mod:`etl.read.noise`) is
  left out, and a sync whose only changes were noise has no entry; nor has the first
  observation, where the history starts (every model would be "added").
* Deterministic: the same database and window give the same bytes. The feed's ``updated``
  is its newest entry's (the latest observation when it has none), never the clock.
* Nothing links outside: no link elements, no generator URI, no ``<a>`` or ``<img>``.
* A feed over several catalogs names each entry's catalog (its title starts with it); one
  over a single catalog (``--catalog``, or a database of one) reads as it always did.
* Catalog text is made visible (:func:`etl.text.visible`, plus U+FFFE and U+FFFF) and
  HTML-escaped; feedgen (lxml) escapes the HTML again as XML text. XML 1.0 cannot hold most
  control characters at all (lxml refuses them), so this is needed, not only tidy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from etl.read.changes import ChangeReport, FieldChange, ModelChange, PriceChange, sorted_changes
from etl.read.run_changes import RunChanges, recent_runs, run_changes
from etl.read.units import unit
from etl.reports.change_document import OTHER_LIMIT
from etl.reports.document import change_text, million_cell, percent_cell, value_text, when
from etl.text import visible
from etl.version import package_version

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from etl.read.catalogs import CatalogScope

DEFAULT_TITLE: Final = "Model catalog changes"
DEFAULT_ID: Final = "tag:catalog-etl,2025:changes"
DEFAULT_WINDOW: Final = timedelta(days=30)
DEFAULT_LIMIT: Final = 50
AUTHOR: Final = "catalog-etl"
MAX_ITEMS: Final = 200
"""Items listed per section of an entry; the rest are counted (``diff`` lists them all)."""
CONNECT_TIMEOUT: Final = 10
"""Seconds ``/feed.xml`` waits to connect to PostgreSQL."""
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""``updated`` of a feed over a database that observed nothing yet."""
_FEED_ID = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s#?]+")
_COUNTS: Final = (
    ("price_cuts", "price cut", "price cuts"),
    ("price_increases", "price increase", "price increases"),
    ("other_price_changes", "other price change", "other price changes"),
    ("added", "added", "added"),
    ("removed", "removed", "removed"),
    ("returned", "returned", "returned"),
    ("capability_changes", "capability change", "capability changes"),
    ("other_changes", "other change", "other changes"),
)


def check_feed_id(feed_id: str) -> str:
    """``feed_id`` when it is an absolute URI with neither query nor fragment (entry ids are
    built by appending to it); ValueError otherwise."""
    if not _FEED_ID.fullmatch(feed_id):
        raise ValueError(
            f"{visible(feed_id)!r} is not an absolute URI without '?' or '#'"
            " (such as tag:example.com,2026:models)"
        )
    return feed_id


def safe(value: object) -> str:
    """Text XML 1.0 can hold: :func:`etl.text.visible` escapes what it cannot (control
    characters, lone surrogates, U+FFFE and U+FFFF)."""
    return visible(value)


def _h(value: object) -> str:
    """Catalog text inside the entry's HTML (element text only, never an attribute)."""
    return html.escape(safe(value), quote=False)


def entry_id(feed_id: str, run: RunChanges) -> str:
    """``{feed id}/run/{run id}/{observation time}``: never changes for a run."""
    moment = run.observed_at.astimezone(UTC)
    fraction = f".{moment:%f}" if moment.microsecond else ""
    return f"{feed_id}/run/{run.run_id}/{moment:%Y%m%dT%H%M%S}{fraction}Z"


def entry_title(report: ChangeReport) -> str:
    """The counts, biggest news first: ``3 price cuts, 1 added, 2 other changes``."""
    summary = report.summary()
    summary["other_price_changes"] = (
        summary["price_changes"] - summary["price_cuts"] - summary["price_increases"]
    )
    return ", ".join(
        f"{summary[key]} {one if summary[key] == 1 else many}"
        for key, one, many in _COUNTS
        if summary[key]
    )


def _model_line(change: ModelChange) -> str:
    """The model, its name, context and prompt and completion prices (its last ones, for a
    removed model)."""
    name = f" ({_h(value_text(change.name, 80))})" if change.name else ""
    if change.prices is None:
        prices = "unpriced"
    else:
        prompt, completion = (
            million_cell(change.price(component), component).text
            for component in ("prompt", "completion")
        )
        prices = f"prompt {prompt}, completion {completion} USD per 1M tokens"
    context = value_text(change.context_length)
    return f"<code>{_h(change.model)}</code>{name}: context {_h(context)}; {_h(prices)}"


def _price_line(change: PriceChange) -> str:
    old = million_cell(change.old, change.component).text
    new = million_cell(change.new, change.component).text
    per = "1M tokens" if unit(change.component) == "token" else unit(change.component)
    percent = percent_cell(change.old, change.new).text
    shown = f" ({percent})" if percent else ""
    return (
        f"<code>{_h(change.model)}</code> {_h(change.component)}:"
        f" {_h(old)} → {_h(new)} USD per {_h(per)}{_h(shown)}"
    )


def _field_line(change: FieldChange) -> str:
    return (
        f"<code>{_h(change.model)}</code> {_h(change.field)}:"
        f" {_h(change_text(change, OTHER_LIMIT))}"
    )


def _section(title: str, lines: Sequence[str]) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{line}</li>" for line in lines[:MAX_ITEMS])
    if len(lines) > MAX_ITEMS:
        items += f"<li>… and {len(lines) - MAX_ITEMS} more (catalog-etl diff lists them)</li>"
    return f"<h3>{title} ({len(lines)})</h3>\n<ul>{items}</ul>\n"


def entry_content(run: RunChanges, *, named: bool = False) -> str:
    """The entry's HTML: when (and in which catalog, when ``named``), then one list per
    kind of change."""
    report = run.report
    against = (
        f"compared with {when(run.previous_at)} UTC"
        if run.previous_at is not None
        else "the first observation"
    )
    observed = f"{when(run.observed_at)} UTC, {against}."
    where = f"Catalog {_h(run.catalog)}: observed" if named else "Observed"
    parts = [f"<p>{where} {observed}</p>\n"]
    for title, models in (
        ("Added", report.added),
        ("Removed", report.removed),
        ("Returned", report.returned),
    ):
        parts.append(_section(title, [_model_line(change) for change in models]))
    movers = sorted_changes(report.price_changes, "movers")
    parts.append(_section("Price changes", [_price_line(change) for change in movers]))
    for title, fields in (
        ("Capability changes", report.capability_changes),
        ("Other changes", report.other_changes),
    ):
        parts.append(_section(title, [_field_line(change) for change in fields]))
    noise = len(report.rounding_noise)
    if noise:
        changes = "price change smaller than one part in a million (rounding noise) is"
        if noise > 1:
            changes = "price changes smaller than one part in a million (rounding noise) are"
        parts.append(f"<p>{noise} {changes} left out.</p>\n")
    return "".join(parts)


def _news(run: RunChanges) -> bool:
    """A change other than rounding noise, after the first observation: that one is where
    the history starts (every model "added"), not news, as for notifications."""
    return run.previous_at is not None and not run.empty


def feed_runs(
    connection: Connection, since: datetime, limit: int, catalogs: CatalogScope | None = None
) -> list[RunChanges]:
    """The newest ``limit`` syncs of the catalogs read (all when None) observed since
    ``since`` that brought news (see :func:`_news`), newest first."""
    wanted = limit
    found: dict[int, RunChanges] = {}
    while True:
        ids = recent_runs(connection, since, wanted, catalogs)
        for run_id in ids:
            if run_id not in found:
                found[run_id] = run_changes(connection, run_id)
        news = [found[run_id] for run_id in ids if _news(found[run_id])]
        if len(news) >= limit or len(ids) < wanted:
            return news[:limit]
        # Some runs were only rounding noise (or the first): look further back for the rest.
        wanted += limit - len(news)


def render(
    runs: Iterable[RunChanges],
    *,
    title: str = DEFAULT_TITLE,
    feed_id: str = DEFAULT_ID,
    updated: datetime = EPOCH,
    named: bool = False,
) -> bytes:
    """The Atom document (UTF-8) of ``runs``; ``updated`` is the feed's when it has no
    entry. With ``named`` each entry names its run's catalog."""
    from feedgen.feed import FeedGenerator

    runs = list(runs)
    if not title.strip():
        raise ValueError("the feed's title is empty")
    generator = FeedGenerator()
    generator.id(check_feed_id(feed_id))
    generator.title(safe(title))
    generator.subtitle("One entry per sync that changed the catalog, newest first.")
    generator.author({"name": AUTHOR})
    generator.generator("catalog-etl", version=package_version())
    generator.language("en")
    generator.updated(max((run.observed_at for run in runs), default=updated))
    for run in runs:
        entry = generator.add_entry(order="append")  # feedgen prepends by default
        entry.id(entry_id(feed_id, run))
        title = entry_title(run.report)
        entry.title(f"{safe(run.catalog)}: {title}" if named else title)
        entry.updated(run.observed_at)
        entry.content(entry_content(run, named=named), type="html")
    document: bytes = generator.atom_str(pretty=True)
    return document


@dataclass(frozen=True)
class FeedRuns:
    runs: list[RunChanges]
    """The entries' runs, newest first."""
    updated: datetime
    """The feed's ``updated`` should it have no entry: the latest observation."""
    named: bool
    """Whether entries name their catalog: the feed covers several."""


def collect(engine: Engine, since: datetime, limit: int, catalogs: Iterable[str] = ()) -> FeedRuns:
    """The entries' runs (:func:`feed_runs`) of the catalogs named (all when none), read in
    one snapshot of the database: a sync committing meanwhile is in the feed whole or not
    at all. :class:`~etl.read.catalogs.UnknownCatalog` for a name the database lacks."""
    from etl.read.catalogs import catalog_scope
    from etl.read.queries import latest_observation

    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    with connection:
        scope = catalog_scope(connection, catalogs)
        runs = feed_runs(connection, since, limit, scope)
        updated = latest_observation(connection, catalogs=scope) or EPOCH
        return FeedRuns(runs, updated, scope.named)


def build_feed(
    engine: Engine,
    since: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    title: str = DEFAULT_TITLE,
    feed_id: str = DEFAULT_ID,
    catalogs: Sequence[str] = (),
) -> bytes:
    """The feed of the syncs of ``catalogs`` (all when empty) observed since ``since``."""
    check_feed_id(feed_id)
    found = collect(engine, since, limit, catalogs)
    return render(
        found.runs, title=title, feed_id=feed_id, updated=found.updated, named=found.named
    )


def database_feed(
    database_url: str,
    *,
    window: timedelta = DEFAULT_WINDOW,
    limit: int = DEFAULT_LIMIT,
    title: str = DEFAULT_TITLE,
    feed_id: str = DEFAULT_ID,
    clock: Callable[[], datetime] | None = None,
    catalogs: Sequence[str] = (),
) -> Callable[[Sequence[str]], bytes]:
    """What ``serve`` answers ``/feed.xml`` with: a function that builds the feed of the
    last ``window`` of the catalogs it is given (``/feed.xml?catalog=NAME``; else
    ``catalogs``; all when empty) from the database each time it is called, on an engine of
    its own (no pool: nothing is held between requests), disposed afterwards."""
    check_feed_id(feed_id)

    def produce(chosen: Sequence[str]) -> bytes:
        from sqlalchemy.pool import NullPool

        from etl.db.engine import make_engine, parse_url
        from etl.times import utcnow

        now = (clock or utcnow)()
        options: dict[str, Any] = {"poolclass": NullPool}
        parsed = parse_url(database_url)
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # A request waits this long for an unreachable server, not minutes.
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        engine = make_engine(database_url, **options)
        try:
            return build_feed(
                engine,
                now - window,
                limit=limit,
                title=title,
                feed_id=feed_id,
                catalogs=chosen or catalogs,
            )
        finally:
            engine.dispose()

    return produce
