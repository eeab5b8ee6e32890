"""Format-neutral documents: titled sections of rows of cells, and how a price, a percentage
or a changed list reads in a cell.

:mod:`etl.reports.change_document`, :mod:`etl.reports.history_document` and
:mod:`etl.reports.price_document` decide a report's content (which sections, which columns)
from query results; the format modules only write the same document as rich tables, Markdown
or HTML. Prices are turned into text here, the last step, from exact decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from etl.ingest.money import Price, canonical, price_text
from etl.read.history import PriceSeries
from etl.read.queries import Filters
from etl.read.units import change_percent, per_million, percent_text
from etl.reports.text_diff import MINUS as MINUS
from etl.reports.text_diff import change_text as change_text
from etl.reports.text_diff import value_text as value_text
from etl.times import as_utc


@dataclass(frozen=True)
class Cell:
    text: str
    tone: str = ""
    """``cut`` (cheaper), ``increase`` (dearer), ``muted``, or plain."""
    code: bool = False
    """An identifier (model id, component), shown in monospace where the format can."""
    wrap: bool = False
    """Long text that must be read whole: wrapped, never cut short."""
    details: tuple[tuple[str, str], ...] = ()
    """Labelled full texts behind the cell (``("old", ...), ("new", ...)``), for formats
    that can fold them away (HTML); the others show the cell's text only."""


Row = tuple[Cell, ...]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    """Lower case, with the count: ``added (3)``. Formats capitalize as they like."""
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric_columns: frozenset[int] = frozenset()
    """Columns aligned right."""


@dataclass(frozen=True)
class Chart:
    title: str
    series: tuple[PriceSeries, ...]


@dataclass(frozen=True)
class Document:
    title: str
    lines: tuple[str, ...] = ()
    """Context under the title: the window, the observations, the filters."""
    summary: tuple[tuple[str, int], ...] = ()
    sections: tuple[Section, ...] = ()
    charts: tuple[Chart, ...] = field(default=())
    empty_text: str = "no differences"
    """Shown when every section is empty."""

    @property
    def empty(self) -> bool:
        return not any(section.rows for section in self.sections)


# --- Formatting: the last step ----------------------------------------------------------


def when(moment: datetime | None) -> str:
    """A time as tables show it: ``2026-03-03 01:05`` (UTC)."""
    return "-" if moment is None else f"{as_utc(moment):%Y-%m-%d %H:%M}"


def price_cell(price: Price | None) -> Cell:
    if price is None:
        return Cell("unpriced", tone="muted")
    return Cell(price_text(price))


def million_cell(price: Price | None, component: str) -> Cell:
    """The price per 1M tokens of a token component; per unit otherwise."""
    if price is None:
        return Cell("unpriced", tone="muted")
    amount = per_million(price, component)
    if amount is None:
        return Cell(price_text(price))
    return Cell(price_text(amount))


def percent_cell(old: Price | None, new: Price | None, *, muted: bool = False) -> Cell:
    """The relative change in percent: two places, or two significant digits for a change
    that would round to 0 (``+0.000001%``, never ``+0%``). Red for a rise, green for a
    cut, unless ``muted`` (rounding noise)."""
    percent = change_percent(old, new)
    if percent is None:
        return Cell("new" if old == 0 else "", tone="muted")
    text = percent_text(percent) or ""
    if percent != 0 and Decimal(text) == 0:
        text = _significant(percent)
    sign = "+" if percent > 0 else ""
    tone = "cut" if percent < 0 else "increase" if percent > 0 else ""
    return Cell(f"{sign}{text.replace('-', MINUS)}%", tone="muted" if muted else tone)


def _significant(amount: Decimal, digits: int = 2) -> str:
    """``amount`` rounded half up to ``digits`` significant digits, as plain text."""
    step = Decimal(1).scaleb(amount.adjusted() - digits + 1)
    return canonical(amount.quantize(step, rounding=ROUND_HALF_UP))


def filters_line(filters: Filters, *, components: bool = True) -> str | None:
    """The filters as a line under the title; None when nothing is filtered."""
    parts = [
        f"{name} {', '.join(values)}"
        for name, values in (
            ("vendor", filters.vendors),
            ("model", filters.models),
            ("category", filters.categories),
            ("component", filters.components if components else ()),
        )
        if values
    ]
    return "Filtered to " + "; ".join(parts) if parts else None


def numeric_columns(columns: Sequence[str], *names: str) -> frozenset[int]:
    """Where ``names`` sit among ``columns``: the columns a section aligns right."""
    return frozenset(i for i, column in enumerate(columns) if column in names)


def with_charts(document: Document, charts: Sequence[Chart]) -> Document:
    return Document(
        document.title,
        document.lines,
        document.summary,
        document.sections,
        tuple(charts),
        document.empty_text,
    )
