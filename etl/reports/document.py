"""Query results as format-neutral documents: titled sections of rows of cells.

This is where a report's content is decided (which sections, which columns, how a price,
a percentage or a changed list reads); the format modules only write the same document
as rich tables, Markdown or HTML. Prices are turned into text here, the last step, from
exact decimals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from etl.ingest.money import Price, price_text
from etl.read.changes import ChangeReport, FieldChange, ModelChange, PriceChange
from etl.read.history import ModelHistory, PriceSeries
from etl.read.prices import PriceTable
from etl.read.queries import Filters
from etl.read.units import change_percent, per_million, percent_text, unit
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

MINUS = "\u2212"


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


def percent_cell(old: Price | None, new: Price | None) -> Cell:
    percent = change_percent(old, new)
    if percent is None:
        return Cell("new" if old == 0 else "", tone="muted")
    text = percent_text(percent) or ""
    sign = "+" if percent > 0 else ""
    tone = "cut" if percent < 0 else "increase" if percent > 0 else ""
    return Cell(f"{sign}{text.replace('-', MINUS)}%", tone=tone)


def value_text(value: Any, limit: int | None = None) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, list | tuple):
        text = ", ".join(map(str, value)) or "(none)"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def change_text(change: FieldChange, limit: int = 60) -> str:
    """``131072 → 80000``; for a set, what was gained and lost: ``+tools, −seed``."""
    if change.added or change.removed:
        return ", ".join(
            [f"+{item}" for item in change.added] + [f"{MINUS}{item}" for item in change.removed]
        )
    return f"{value_text(change.old, limit)} → {value_text(change.new, limit)}"


def _unit_header(component: str) -> str:
    return "USD/1M" if unit(component) == "token" else f"USD/{unit(component)}"


def _filters_line(filters: Filters, *, components: bool = True) -> str | None:
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


def _numeric(columns: Sequence[str], *names: str) -> frozenset[int]:
    return frozenset(i for i, column in enumerate(columns) if column in names)


# --- diff -------------------------------------------------------------------------------

_SORT_NAMES = {"model": "model", "time": "time", "movers": "biggest movers first"}


def change_document(report: ChangeReport) -> Document:
    """``diff`` and ``report``: summary counts and one section per kind of change."""
    timed = report.events
    at = ("at",) if timed else ()

    def stamp(change: ModelChange | PriceChange | FieldChange) -> tuple[Cell, ...]:
        return (Cell(when(change.at)),) if timed else ()

    def model_rows(items: Iterable[ModelChange]) -> tuple[Row, ...]:
        return tuple(
            (
                *stamp(item),
                Cell(item.model, code=True),
                Cell(value_text(item.name, 50)),
                Cell(value_text(item.context_length)),
                million_cell(item.price("prompt"), "prompt"),
                million_cell(item.price("completion"), "completion"),
            )
            for item in items
        )

    model_columns = (*at, "model", "name", "context", "prompt USD/1M", "completion USD/1M")
    sections = [
        Section(
            kind,
            f"{kind} ({len(items)})",
            model_columns,
            model_rows(items),
            _numeric(model_columns, "context", "prompt USD/1M", "completion USD/1M"),
        )
        for kind, items in (
            ("added", report.added),
            ("removed", report.removed),
            ("returned", report.returned),
        )
    ]
    price_columns = (
        *at,
        "model",
        "component",
        "old",
        "new",
        "old per 1M/unit",
        "new per 1M/unit",
        "change",
    )
    sections.append(
        Section(
            "price_changes",
            f"price changes ({len(report.price_changes)})",
            price_columns,
            tuple(
                (
                    *stamp(change),
                    Cell(change.model, code=True),
                    Cell(change.component, code=True),
                    price_cell(change.old),
                    price_cell(change.new),
                    million_cell(change.old, change.component),
                    million_cell(change.new, change.component),
                    percent_cell(change.old, change.new),
                )
                for change in report.price_changes
            ),
            _numeric(price_columns, "old", "new", "old per 1M/unit", "new per 1M/unit", "change"),
        )
    )
    capabilities = report.capability_changes
    sections.append(
        Section(
            "capability_changes",
            f"capability changes ({len(capabilities)})",
            (*at, "model", "field", "change"),
            tuple(
                (
                    *stamp(change),
                    Cell(change.model, code=True),
                    Cell(change.field, code=True),
                    Cell(change_text(change), wrap=True),
                )
                for change in capabilities
            ),
        )
    )
    others = report.other_changes
    sections.append(
        Section(
            "other_changes",
            f"other changes ({len(others)})",
            (*at, "model", "field", "old", "new"),
            tuple(
                (
                    *stamp(change),
                    Cell(change.model, code=True),
                    Cell(change.field, code=True),
                    Cell(value_text(change.old, 60)),
                    Cell(value_text(change.new, 60)),
                )
                for change in others
            ),
        )
    )
    summary = report.summary()
    lines = [
        f"From {when(report.since)} (observed {when(report.since_observed_at)})"
        f" to {when(report.until)} (observed {when(report.until_observed_at)}), UTC.",
        "Every change observed in the window, with its time."
        if timed
        else "Net difference between the two states.",
        f"Sorted by {_SORT_NAMES.get(report.sort, report.sort)}. Prices in USD: per unit as"
        " stored, and per 1M tokens for token prices.",
    ]
    filters = _filters_line(report.filters)
    if filters:
        lines.append(filters + ".")
    return Document(
        title="Model catalog changes",
        lines=tuple(lines),
        summary=(
            ("added", summary["added"]),
            ("removed", summary["removed"]),
            ("returned", summary["returned"]),
            ("models repriced", summary["repriced_models"]),
            ("price cuts", summary["price_cuts"]),
            ("price increases", summary["price_increases"]),
            ("capability changes", summary["capability_changes"]),
            ("other changes", summary["other_changes"]),
        ),
        sections=tuple(sections),
    )


# --- history ----------------------------------------------------------------------------


def version_changes_text(changes: Sequence[FieldChange]) -> str:
    if not changes:
        return "first version"
    parts = []
    for change in changes:
        if change.field == "description":
            parts.append("description edited")
        else:
            parts.append(f"{change.field} {change_text(change, 40)}")
    return "; ".join(parts)


def history_document(history: ModelHistory) -> Document:
    """``history MODEL``: availability, versions, price changes and price intervals."""
    info = history.info
    listed = (
        "listed now"
        if info.available
        else f"not listed since {when(history.availability[-1].available_until)}"
        if history.availability
        else "not listed"
    )
    price_columns = (
        "at",
        "component",
        "old",
        "new",
        "old per 1M/unit",
        "new per 1M/unit",
        "change",
    )
    interval_columns = ("component", "price", "per 1M/unit", "from", "until")
    sections = (
        Section(
            "availability",
            f"availability ({len(history.availability)})",
            ("from", "until", "last seen"),
            tuple(
                (
                    Cell(when(span.available_from)),
                    Cell(when(span.available_until) if span.available_until else "listed"),
                    Cell(when(span.last_seen_at or info.last_seen_at)),
                )
                for span in history.availability
            ),
        ),
        Section(
            "versions",
            f"versions ({len(history.versions)})",
            ("version", "from", "until", "what changed"),
            tuple(
                (
                    Cell(str(version.version)),
                    Cell(when(version.valid_from)),
                    Cell(when(version.valid_to) if version.valid_to else "current"),
                    Cell(version_changes_text(version.changes), wrap=True),
                )
                for version in history.versions
            ),
            frozenset({0}),
        ),
        Section(
            "price_changes",
            f"price changes ({len(history.events.price_changes)})",
            price_columns,
            tuple(
                (
                    Cell(when(change.at)),
                    Cell(change.component, code=True),
                    price_cell(change.old),
                    price_cell(change.new),
                    million_cell(change.old, change.component),
                    million_cell(change.new, change.component),
                    percent_cell(change.old, change.new),
                )
                for change in history.events.price_changes
            ),
            _numeric(price_columns, "old", "new", "old per 1M/unit", "new per 1M/unit", "change"),
        ),
        Section(
            "prices",
            f"stored prices ({len(history.prices)})",
            interval_columns,
            tuple(
                (
                    Cell(interval.component, code=True),
                    price_cell(interval.price),
                    million_cell(interval.price, interval.component),
                    Cell(when(interval.valid_from)),
                    Cell(when(interval.valid_to) if interval.valid_to else "current"),
                )
                for interval in history.prices
            ),
            _numeric(interval_columns, "price", "per 1M/unit"),
        ),
    )
    return Document(
        title=f"History of {info.model}",
        lines=(
            f"{history.name or info.model} · provider {info.provider} · vendor {info.vendor}",
            f"First seen {when(info.first_seen_at)}, last seen {when(info.last_seen_at)} UTC;"
            f" {listed}.",
            "Components a priced model does not list cost 0 and have no stored row.",
        ),
        sections=sections,
        empty_text="nothing recorded",
    )


# --- prices -----------------------------------------------------------------------------


def price_document(table: PriceTable) -> Document:
    """``prices``: one row per model, a column per component (per 1M tokens)."""
    columns = (
        "model",
        "name",
        "context",
        *(f"{component} {_unit_header(component)}" for component in table.components),
    )
    rows = tuple(
        (
            Cell(row.model, code=True),
            Cell(value_text(row.head.name, 50)),
            Cell(value_text(row.head.context_length)),
            *(million_cell(row.price(c), c) for c in table.components),
        )
        for row in table.rows
    )
    lines = [
        f"As of {when(table.as_of)} UTC (observed {when(table.observed_at)}).",
        'USD per 1M tokens for token prices, per unit otherwise; 0 is free, "unpriced"'
        " means the model has no pricing at all.",
    ]
    filters = _filters_line(table.filters, components=False)
    if filters:
        lines.append(filters + ".")
    sort = "model" if table.sort == "model" else f"{table.sort}"
    lines.append(f"Sorted by {sort}.")
    return Document(
        title="Model prices",
        lines=tuple(lines),
        sections=(
            Section(
                "models",
                f"models ({len(rows)})",
                columns,
                rows,
                frozenset(range(2, len(columns))),
            ),
        ),
        empty_text="no models",
    )


def with_charts(document: Document, charts: Sequence[Chart]) -> Document:
    return Document(
        document.title,
        document.lines,
        document.summary,
        document.sections,
        tuple(charts),
        document.empty_text,
    )
