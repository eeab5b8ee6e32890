"""``diff`` and ``report`` as a document: summary counts and one section per kind of change,
net or with each change's time."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from etl.ingest.money import canonical
from etl.read.changes import ChangeReport, FieldChange, ModelChange, PriceChange
from etl.read.noise import ROUNDING_NOISE_THRESHOLD
from etl.reports.document import (
    Cell,
    Document,
    Row,
    Section,
    change_text,
    filters_line,
    million_cell,
    numeric_columns,
    percent_cell,
    price_cell,
    value_text,
    when,
)

_SORT_NAMES = {"model": "model", "time": "time", "movers": "biggest movers first"}
Lead = tuple[bool, bool]
"""Whether rows start with their time (events) and with their catalog (several named)."""
OTHER_LIMIT: Final = 80
"""Values up to this long read whole in "other changes"; longer ones as a diff."""


def change_document(report: ChangeReport) -> Document:
    """``diff`` and ``report``: summary counts and one section per kind of change."""
    lead = report.events, report.named
    sections = [
        _model_section(kind, items, lead)
        for kind, items in (
            ("added", report.added),
            ("removed", report.removed),
            ("returned", report.returned),
        )
    ]
    sections.append(_price_section(report.price_changes, lead))
    if report.rounding_noise:
        sections.append(_price_section(report.rounding_noise, lead, noise=True))
    sections.append(_capability_section(report.capability_changes, lead))
    sections.append(_other_section(report.other_changes, lead))
    return Document(
        title="Model catalog changes",
        lines=_lines(report),
        summary=_summary(report),
        sections=tuple(sections),
    )


def _at(timed: bool, named: bool) -> tuple[str, ...]:
    """The columns before the model: its time, when the changes have one, and its
    catalog, when the report names them."""
    return ("at",) * timed + ("catalog",) * named


def _stamp(
    change: ModelChange | PriceChange | FieldChange, timed: bool, named: bool
) -> tuple[Cell, ...]:
    time = (Cell(when(change.at)),) if timed else ()
    return (*time, Cell(change.catalog or "", code=True)) if named else time


def _model_section(kind: str, items: tuple[ModelChange, ...], lead: Lead) -> Section:
    """The models added, removed or returned."""
    model_columns = (*_at(*lead), "model", "name", "context", "prompt USD/1M", "completion USD/1M")
    return Section(
        kind,
        f"{kind} ({len(items)})",
        model_columns,
        _model_rows(items, lead),
        numeric_columns(model_columns, "context", "prompt USD/1M", "completion USD/1M"),
    )


def _model_rows(items: Iterable[ModelChange], lead: Lead) -> tuple[Row, ...]:
    return tuple(
        (
            *_stamp(item, *lead),
            Cell(item.model, code=True),
            Cell(value_text(item.name, 50)),
            Cell(value_text(item.context_length)),
            million_cell(item.price("prompt"), "prompt"),
            million_cell(item.price("completion"), "completion"),
        )
        for item in items
    )


def _price_section(
    price_changes: tuple[PriceChange, ...], lead: Lead, *, noise: bool = False
) -> Section:
    """The price changes, or (``noise``) the rounding noise, in muted tones."""
    price_columns = (
        *_at(*lead),
        "model",
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
        f"{label} ({len(price_changes)})",
        price_columns,
        tuple(
            (
                *_stamp(change, *lead),
                Cell(change.model, code=True),
                Cell(change.component, code=True),
                price_cell(change.old),
                price_cell(change.new),
                million_cell(change.old, change.component),
                million_cell(change.new, change.component),
                percent_cell(change.old, change.new, muted=noise),
            )
            for change in price_changes
        ),
        numeric_columns(
            price_columns, "old", "new", "old per 1M/unit", "new per 1M/unit", "change"
        ),
    )


def _capability_section(capabilities: tuple[FieldChange, ...], lead: Lead) -> Section:
    return Section(
        "capability_changes",
        f"capability changes ({len(capabilities)})",
        (*_at(*lead), "model", "field", "change"),
        tuple(
            (
                *_stamp(change, *lead),
                Cell(change.model, code=True),
                Cell(change.field, code=True),
                Cell(change_text(change), wrap=True),
            )
            for change in capabilities
        ),
    )


def _other_section(others: tuple[FieldChange, ...], lead: Lead) -> Section:
    return Section(
        "other_changes",
        f"other changes ({len(others)})",
        (*_at(*lead), "model", "field", "change"),
        tuple(
            (
                *_stamp(change, *lead),
                Cell(change.model, code=True),
                Cell(change.field, code=True),
                Cell(change_text(change, OTHER_LIMIT), wrap=True, details=_full_texts(change)),
            )
            for change in others
        ),
    )


def _full_texts(change: FieldChange) -> tuple[tuple[str, str], ...]:
    """The whole old and new values, when the change text shows only what differs."""
    if not isinstance(change.new, dict) and all(
        len(value_text(value)) <= OTHER_LIMIT for value in (change.old, change.new)
    ):
        return ()
    return (("old", _full_text(change.old)), ("new", _full_text(change.new)))


def _full_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)


def _lines(report: ChangeReport) -> tuple[str, ...]:
    """Under the title: the window and its observations, net or events, the sort, filters."""
    window = (
        f"From {when(report.since)} to {when(report.until)}, UTC."
        if report.named
        else f"From {when(report.since)} (observed {when(report.since_observed_at)})"
        f" to {when(report.until)} (observed {when(report.until_observed_at)}), UTC."
    )
    lines = [
        window,
        *(
            f"Catalog {name}: observed {when(since)} and {when(until)}."
            if report.named
            else f"Catalog {name}."
            for name, since, until in report.catalogs
        ),
        "Every change observed in the window, with its time."
        if report.events
        else "Net difference between the two states.",
        f"Sorted by {_SORT_NAMES.get(report.sort, report.sort)}. Prices in USD: per unit as"
        " stored, and per 1M tokens for token prices.",
    ]
    filters = filters_line(report.filters)
    if filters:
        lines.append(filters + ".")
    if report.rounding_noise:
        lines.append(
            f"Price changes smaller than {canonical(ROUNDING_NOISE_THRESHOLD * 100)}% of the old"
            " price are"
            " rounding noise (floating-point leftovers such as 0.0000000299999997), listed"
            " apart; --include-noise lists them with the price changes."
        )
    return tuple(lines)


def _summary(report: ChangeReport) -> tuple[tuple[str, int], ...]:
    summary = report.summary()
    return (
        ("added", summary["added"]),
        ("removed", summary["removed"]),
        ("returned", summary["returned"]),
        ("models repriced", summary["repriced_models"]),
        ("price cuts", summary["price_cuts"]),
        ("price increases", summary["price_increases"]),
        *((("rounding noise", summary["rounding_noise"]),) if report.rounding_noise else ()),
        ("capability changes", summary["capability_changes"]),
        ("other changes", summary["other_changes"]),
    )
