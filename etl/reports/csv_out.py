"""CSV: flat rows for spreadsheets and scripts, every value exact and unabbreviated."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from etl.read.changes import ChangeReport
from etl.read.prices import PriceTable
from etl.read.units import decimal_text, per_million, price_value_text, unit

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
)


def _write(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _text(value) for key, value in row.items()})
    return buffer.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes(report: ChangeReport) -> str:
    """One row per change: model sections (added, removed, returned), then price changes,
    then field changes (section ``capability`` or ``other``)."""
    rows: list[dict[str, Any]] = []
    for section in ("added", "removed", "returned"):
        for item in getattr(report, section):
            document = item.to_json()
            rows.append(
                {
                    "section": section,
                    **{k: document.get(k) for k in ("at", "provider", "model", "vendor", "name")},
                }
            )
    for change in report.price_changes:
        document = change.to_json()
        rows.append({"section": "price", **{k: document.get(k) for k in CHANGE_COLUMNS[1:]}})
    for field_change in report.changes:
        document = field_change.to_json()
        rows.append(
            {
                "section": field_change.kind,
                **{k: document.get(k) for k in ("at", "provider", "model", "vendor", "name")},
                "field": field_change.field,
                "old": document["old"],
                "new": document["new"],
            }
        )
    return _write(CHANGE_COLUMNS, rows)


def prices(table: PriceTable) -> str:
    """One row per model: each component per unit, and per 1M tokens for token components."""
    columns = ["provider", "model", "vendor", "name", "context_length"]
    for component in table.components:
        columns.append(component)
        if unit(component) == "token":
            columns.append(f"{component}_per_million")
    rows = []
    for entry in table.rows:
        row: dict[str, Any] = {
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
