"""``compare --format csv``: one row per key and component compared, a group of columns per
catalog, then one row per model of an ambiguous key. Cells are written as every CSV of
catalog-etl is (:func:`etl.reports.csv_out.cell_text`: control characters visible, formulas
neutralized); amounts are exact decimal text."""

from __future__ import annotations

import csv
import io
from typing import Any

from etl.read.compare import CrossCatalog
from etl.reports.csv_out import cell_text

COLUMNS = (
    "section",
    "match_key",
    "component",
    "unit",
    "lowest",
    "highest",
    "lowest_per_million",
    "highest_per_million",
    "spread_percent",
    "catalogs_compared",
    "ambiguous_in",
)
"""Then ``<catalog>_provider``, ``<catalog>_model``, ``<catalog>_price`` and
``<catalog>_per_million`` for each catalog compared, by name."""
_PER_CATALOG = ("provider", "model", "price", "per_million")


def _rows(report: CrossCatalog) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for comparison in report.rows:
        document = comparison.to_json()
        row = {"section": "compared", **{c: document.get(c) for c in COLUMNS[1:]}}
        for quote in document["prices"]:
            row.update({f"{quote['catalog']}_{field}": quote[field] for field in _PER_CATALOG})
        rows.append(row)
    for entry in report.ambiguous:
        for provider, model in entry.candidates:
            rows.append(
                {
                    "section": "ambiguous",
                    "match_key": entry.match_key,
                    f"{entry.catalog}_provider": provider,
                    f"{entry.catalog}_model": model,
                }
            )
    return rows


def compare_csv(report: CrossCatalog) -> str:
    """The comparison as CSV: sections ``compared`` and ``ambiguous``."""
    columns = [
        *COLUMNS,
        *(f"{c.name}_{field}" for c in report.catalogs for field in _PER_CATALOG),
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writerow({column: cell_text(column) for column in columns})
    for row in _rows(report):
        writer.writerow({key: cell_text(value) for key, value in row.items()})
    return buffer.getvalue()
