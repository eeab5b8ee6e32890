"""``history MODEL`` as a document: one model's availability, versions, price changes and
stored price intervals."""

from __future__ import annotations

from collections.abc import Sequence

from etl.read.changes import FieldChange
from etl.read.history import ModelHistory
from etl.reports.document import (
    Cell,
    Document,
    Section,
    change_text,
    million_cell,
    numeric_columns,
    percent_cell,
    price_cell,
    when,
)


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
    sections = (
        _availability_section(history),
        _versions_section(history),
        _price_changes_section(history),
        *((_price_changes_section(history, noise=True),) if history.events.rounding_noise else ()),
        _prices_section(history),
    )
    return Document(
        title=f"History of {info.model}",
        lines=(
            f"{history.name or info.model} · "
            + (f"catalog {history.catalog} · " if history.catalog else "")
            + f"provider {info.provider} · vendor {info.vendor}",
            f"First seen {when(info.first_seen_at)}, last seen {when(info.last_seen_at)} UTC;"
            f" {listed}.",
            "Components a priced model does not list cost 0 and have no stored row.",
        ),
        sections=sections,
        empty_text="nothing recorded",
    )


def _availability_section(history: ModelHistory) -> Section:
    return Section(
        "availability",
        f"availability ({len(history.availability)})",
        ("from", "until", "last seen"),
        tuple(
            (
                Cell(when(span.available_from)),
                Cell(when(span.available_until) if span.available_until else "listed"),
                Cell(when(span.last_seen_at or history.info.last_seen_at)),
            )
            for span in history.availability
        ),
    )


def _versions_section(history: ModelHistory) -> Section:
    return Section(
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
    )


def _price_changes_section(history: ModelHistory, *, noise: bool = False) -> Section:
    """The price changes, or (``noise``) the rounding noise, muted."""
    changes = history.events.rounding_noise if noise else history.events.price_changes
    price_columns = (
        "at",
        "component",
        "old",
        "new",
        "old per 1M/unit",
        "new per 1M/unit",
        "change",
    )
    key, label = (
        ("rounding_noise", "rounding noise") if noise else ("price_changes", "price changes")
    )
    return Section(
        key,
        f"{label} ({len(changes)})",
        price_columns,
        tuple(
            (
                Cell(when(change.at)),
                Cell(change.component, code=True),
                price_cell(change.old),
                price_cell(change.new),
                million_cell(change.old, change.component),
                million_cell(change.new, change.component),
                percent_cell(change.old, change.new, muted=noise),
            )
            for change in changes
        ),
        numeric_columns(
            price_columns, "old", "new", "old per 1M/unit", "new per 1M/unit", "change"
        ),
    )


def _prices_section(history: ModelHistory) -> Section:
    interval_columns = ("component", "price", "per 1M/unit", "from", "until")
    return Section(
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
        numeric_columns(interval_columns, "price", "per 1M/unit"),
    )
