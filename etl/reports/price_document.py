"""``prices`` as a document: one row per model, a column per component (per 1M tokens)."""

from __future__ import annotations

from etl.read.prices import PriceTable
from etl.read.units import unit
from etl.reports.document import (
    Cell,
    Document,
    Section,
    filters_line,
    million_cell,
    value_text,
    when,
)


def _unit_header(component: str) -> str:
    return "USD/1M" if unit(component) == "token" else f"USD/{unit(component)}"


def price_document(table: PriceTable) -> Document:
    """``prices``: one row per model, a column per component (per 1M tokens)."""
    named = table.named
    columns = (
        *(("catalog",) if named else ()),
        "model",
        "name",
        "context",
        *(f"{component} {_unit_header(component)}" for component in table.components),
    )
    rows = tuple(
        (
            *((Cell(row.info.catalog or "", code=True),) if named else ()),
            Cell(row.model, code=True),
            Cell(value_text(row.head.name, 50)),
            Cell(value_text(row.head.context_length)),
            *(million_cell(row.price(c), c) for c in table.components),
        )
        for row in table.rows
    )
    observed = "; ".join(f"catalog {name} observed {when(at)}" for name, at in table.catalogs)
    lines = [
        f"As of {when(table.as_of)} UTC ({observed or f'observed {when(table.observed_at)}'}).",
        'USD per 1M tokens for token prices, per unit otherwise; 0 is free, "unpriced"'
        " means the model has no pricing at all.",
    ]
    filters = filters_line(table.filters, components=False)
    if filters:
        lines.append(filters + ".")
    sort = table.sort
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
                frozenset(range(2 + named, len(columns))),
            ),
        ),
        empty_text="no models",
    )
