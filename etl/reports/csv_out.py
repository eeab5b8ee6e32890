"""CSV: flat rows for spreadsheets and scripts, every value unabbreviated.

Catalog text is untrusted, and a spreadsheet evaluates a cell that looks like a formula, so
every cell is written the way OWASP recommends against CSV injection:

* control characters are shown as backslash escapes (:func:`etl.reports.safe_text.visible`);
  newlines inside a cell are kept (the cell is quoted);
* then a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  single quote ``'`` in front (:func:`spreadsheet_cell`), so a spreadsheet shows it as text
  instead of evaluating it, unless the whole cell is a plain decimal number (an optional
  sign, digits, an optional fraction: ``-35``, ``0.000003``), which stays a number.

Amounts and percentages are exact decimal text and never change. For the catalog's text
exactly as the gateway sent it, use JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from etl.ingest.money import DYNAMIC, Price
from etl.read.catalogs import named
from etl.read.changes import ChangeReport, ModelChange
from etl.read.prices import PriceTable
from etl.read.units import decimal_text, per_million, price_value_text, unit
from etl.reports.safe_text import visible

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet evaluate a cell (OWASP, CSV injection)."""
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

CHANGE_COLUMNS = (
    "section",
    "at",
    "provider",
    "model",
    "vendor",
    "name",
    "component",
    "field",
    "old",
    "new",
    "unit",
    "old_per_million",
    "new_per_million",
    "change_percent",
    "context_length",
    "prompt_per_million",
    "completion_per_million",
    "pricing",
)
"""Every row has every column. The last four describe the model of an ``added``,
``returned`` or ``removed`` row (for a removal, its last state before it left); they are
empty on the rows of a change, whose ``old`` and ``new`` say what changed."""
_IDENTITY = ("at", "provider", "model", "vendor", "name")


def _write(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    # The header too: price components are named by the catalog.
    writer.writerow({column: cell_text(column) for column in columns})
    for row in rows:
        writer.writerow({key: cell_text(value) for key, value in row.items()})
    return buffer.getvalue()


def spreadsheet_cell(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would evaluate it as a formula;
    a plain decimal number (``-35``) is left alone."""
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell_text(value: Any) -> str:
    """How ``value`` is written in a cell: empty for None, JSON for a list or a dict, control
    characters visible, formula-like text neutralized."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return spreadsheet_cell(visible(value, newlines=True))


def changes(report: ChangeReport) -> str:
    """One row per change: model sections (added, removed, returned), then price changes,
    rounding noise (section ``rounding_noise``), then field changes (section
    ``capability`` or ``other``). A ``catalog`` column follows ``at`` when the report names
    several catalogs."""
    columns = _columns(report)
    rows: list[dict[str, Any]] = []
    for section in ("added", "removed", "returned"):
        rows += [_model_row(section, item) for item in getattr(report, section)]
    for section, price_changes in (
        ("price", report.price_changes),
        ("rounding_noise", report.rounding_noise),
    ):
        for change in price_changes:
            document = change.to_json()
            rows.append({"section": section, **{k: document.get(k) for k in columns[1:]}})
    for field_change in report.changes:
        document = field_change.to_json()
        rows.append(
            {
                "section": field_change.kind,
                **_identity(document),
                "field": field_change.field,
                "old": document["old"],
                "new": document["new"],
            }
        )
    return _write(columns, rows)


def _columns(report: ChangeReport) -> tuple[str, ...]:
    """CHANGE_COLUMNS, with ``catalog`` after ``at`` when the report names several."""
    if not report.named:
        return CHANGE_COLUMNS
    return (*CHANGE_COLUMNS[:2], "catalog", *CHANGE_COLUMNS[2:])


def _identity(document: dict[str, Any]) -> dict[str, Any]:
    """A change's time and model, and its catalog when the report names several."""
    return named(document.get("catalog")) | {k: document.get(k) for k in _IDENTITY}


def _model_row(section: str, item: ModelChange) -> dict[str, Any]:
    """A model added, removed or returned, with its context and prices then."""
    document = item.to_json()
    return {
        "section": section,
        **_identity(document),
        "context_length": item.context_length,
        "prompt_per_million": _per_million_text(item.price("prompt"), "prompt"),
        "completion_per_million": _per_million_text(item.price("completion"), "completion"),
        "pricing": document["pricing"],
    }


def _per_million_text(price: Price | None, component: str) -> str | None:
    """Per 1M tokens, ``dynamic``, or empty when unpriced."""
    return DYNAMIC if price == DYNAMIC else decimal_text(per_million(price, component))


def prices(table: PriceTable) -> str:
    """One row per model: each component per unit, and per 1M tokens for token components."""
    columns = ["catalog"] if table.named else []
    columns += ["provider", "model", "vendor", "name", "context_length"]
    for component in table.components:
        columns.append(component)
        if unit(component) == "token":
            columns.append(f"{component}_per_million")
    rows = []
    for entry in table.rows:
        row: dict[str, Any] = named(entry.info.catalog) | {
            "provider": entry.info.provider,
            "model": entry.info.model,
            "vendor": entry.info.vendor,
            "name": entry.head.name,
            "context_length": entry.head.context_length,
        }
        for component in table.components:
            price = entry.price(component)
            row[component] = price_value_text(price)
            if unit(component) == "token":
                row[f"{component}_per_million"] = decimal_text(per_million(price, component))
        rows.append(row)
    return _write(columns, rows)
