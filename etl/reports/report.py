"""``catalog-etl report``: a change report with price charts, as one HTML or Markdown file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Final, TypeVar

from sqlalchemy import Connection

from etl.read.catalogs import CatalogScope, catalog_scope
from etl.read.change_events import change_events
from etl.read.history import price_series
from etl.read.net_changes import net_changes
from etl.read.queries import Filters, model_directory
from etl.read.units import component_order
from etl.reports import charts, html, markdown
from etl.reports.change_document import change_document
from etl.reports.document import Chart, Document, with_charts

FORMATS: Final = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}
DEFAULT_CHARTS = 12
CHARTS_LINE = (
    "The models whose prices moved most, biggest first: each chart draws the components"
    " that changed. The tables below list every change."
)
MARKDOWN_NOTE = (
    "Price charts are left out of Markdown, which cannot hold them:"
    " write the report as HTML (--out report.html) to see them."
)
LEFT_OUT = "Price charts left out: none asked for (--charts 0)."
T = TypeVar("T")


def report_format(path: Path) -> str:
    """``html`` or ``markdown``, from the file's suffix."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"cannot tell the report format from {path.name!r}: use .html or .md"
        ) from None


def build(
    connection: Connection,
    since: datetime,
    until: datetime,
    filters: Filters,
    *,
    events: bool = False,
    max_charts: int = DEFAULT_CHARTS,
    include_noise: bool = False,
    catalogs: CatalogScope | None = None,
) -> Document:
    """The change document (price changes biggest movers first) of the catalogs read (all
    when None) and, for the models with the biggest price moves, one chart each of the
    components that changed. With ``max_charts`` 0 a line under the title says the charts
    were left out."""
    scope = catalogs or catalog_scope(connection)
    query = change_events if events else net_changes
    result = query(
        connection, since, until, filters, "movers", include_noise=include_noise, catalogs=scope
    )
    document = change_document(result)
    if result.price_changes and max_charts == 0:
        return replace(document, lines=(*document.lines, LEFT_OUT))
    wanted: dict[tuple[str, str, str], set[str]] = {}
    for change in result.price_changes:
        key = (change.catalog or "", change.provider, change.model)
        if key in wanted or len(wanted) < max_charts:
            wanted.setdefault(key, set()).add(change.component)
    if not wanted:
        return document
    infos = {
        info.key: info
        for info in model_directory(connection, filters, since, until, catalogs=scope).values()
        if info.key in wanted
    }
    components = {c for cs in wanted.values() for c in cs}
    series = price_series(connection, list(infos.values()), components, since=since, until=until)
    chart_list = []
    for key, changed in wanted.items():
        lines = tuple(
            s
            for s in sorted(series, key=lambda s: component_order(s.component))
            if s.info.key == key and s.component in changed
        )
        if lines:
            name = " ".join((lines[0].name or "").split())
            model = f"{key[0]}: {key[2]}" if key[0] else key[2]
            title = f"{model} ({name})" if name else model
            chart_list.append(Chart(title, lines))
    return with_charts(document, chart_list)


def render(
    document: Document,
    output_format: str,
    progress: Callable[[Sequence[Chart], str], Iterable[Chart]] | None = None,
) -> str:
    """The report as text. HTML draws its charts first, as inline SVG (no library needed);
    Markdown cannot hold them and says so."""
    if output_format == "markdown":
        note = MARKDOWN_NOTE if document.charts else None
        return markdown.render(document, note=note)
    if not document.charts:
        return html.render(document)
    steps = progress(document.charts, "drawing charts") if progress else document.charts
    svgs = [(chart.title, charts.to_svg(chart.series)) for chart in steps]
    return html.render(document, charts=svgs, charts_line=CHARTS_LINE)
