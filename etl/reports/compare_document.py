"""``compare`` as a document: a row per model key and component with a column per catalog,
the models each amount comes from, and the ambiguous keys left out."""

from __future__ import annotations

from decimal import Decimal

from etl.read.compare import Comparison, CrossCatalog
from etl.read.units import decimal_text, percent_text, unit
from etl.reports.document import (
    MINUS,
    Cell,
    Document,
    Section,
    filters_line,
    million_cell,
    numeric_columns,
    when,
)

MATCHING_RULE = (
    "Models match on their key: vendor/name, lowercased, with '.' and '_' written '-'"
    " (OpenRouter's openai/gpt-4o is LiteLLM's gpt-4o of provider openai)."
)


def _unit_header(component: str) -> str:
    return "USD/1M" if unit(component) == "token" else f"USD/{unit(component)}"


def _amount_cell(row: Comparison, catalog: str) -> Cell:
    """The catalog's price: the cheapest green and the dearest red when they differ."""
    if catalog in row.ambiguous_in:
        return Cell("ambiguous", tone="muted")
    quote = next((q for q in row.quotes if q.catalog == catalog), None)
    if quote is None:
        return Cell("-", tone="muted")
    cell = million_cell(quote.price, row.component)
    if not isinstance(quote.price, Decimal):
        return Cell(cell.text, tone="muted")
    if row.lowest == row.highest:
        return cell
    tone = "cut" if quote.price == row.lowest else "increase" if quote.price == row.highest else ""
    return Cell(cell.text, tone=tone)


def _spread_cell(row: Comparison) -> Cell:
    text = percent_text(row.spread)
    return Cell("-", tone="muted") if text is None else Cell(f"{text.replace('-', MINUS)}%")


def _compared(report: CrossCatalog) -> Section:
    names = [c.name for c in report.catalogs]
    columns = ("match key", "component", "unit", *names, "lowest", "highest", "spread")
    rows = tuple(
        (
            Cell(row.match_key, code=True),
            Cell(row.component, code=True),
            Cell(_unit_header(row.component)),
            *(_amount_cell(row, name) for name in names),
            million_cell(row.lowest, row.component),
            million_cell(row.highest, row.component),
            _spread_cell(row),
        )
        for row in report.rows
    )
    numeric = numeric_columns(columns, *names, "lowest", "highest", "spread")
    return Section("compared", f"compared ({len(rows)})", columns, rows, numeric)


def _sources(report: CrossCatalog) -> Section:
    """The model behind each amount, once per key and catalog."""
    seen = dict.fromkeys(
        (row.match_key, quote.catalog, quote.provider, quote.model)
        for row in report.rows
        for quote in row.quotes
    )
    rows = tuple(tuple(Cell(text, code=True) for text in source) for source in seen)
    columns = ("match key", "catalog", "provider", "model")
    return Section("sources", f"sources ({len(rows)})", columns, rows)


def _ambiguous(report: CrossCatalog) -> Section:
    rows = tuple(
        (
            Cell(entry.catalog, code=True),
            Cell(entry.match_key, code=True),
            Cell(provider, code=True),
            Cell(model, code=True),
        )
        for entry in report.ambiguous
        for provider, model in entry.candidates
    )
    columns = ("catalog", "match key", "provider", "model")
    return Section("ambiguous", f"ambiguous, not compared ({len(rows)})", columns, rows)


def _lines(report: CrossCatalog) -> list[str]:
    seen = ", ".join(f"{c.name} (observed {when(c.observed_at)})" for c in report.catalogs)
    lines = [f"As of {when(report.as_of)} UTC. Catalogs: {seen or 'none'}."]
    if report.not_observed:
        lines.append(f"Not observed by then: {', '.join(report.not_observed)}.")
    lines += [
        MATCHING_RULE,
        "USD per 1M tokens for token prices, per unit otherwise; 0 is free; dynamic and"
        " unpriced prices are shown, never compared.",
        "Spread = (highest - lowest) / lowest, widest first; undefined when the lowest is 0.",
    ]
    filters = filters_line(report.filters, components=False)
    if filters:
        lines.append(filters + ".")
    if report.min_spread is not None:
        lines.append(f"Only spreads of at least {decimal_text(report.min_spread)}%.")
    if report.reason:
        lines.append(report.reason[:1].upper() + report.reason[1:] + ".")
    return lines


def compare_document(report: CrossCatalog) -> Document:
    """``compare``: what each catalog charges for the same model, widest spread first."""
    keys = len({entry.match_key for entry in report.ambiguous})
    return Document(
        title="Prices across catalogs",
        lines=tuple(_lines(report)),
        summary=(
            ("compared", len(report.rows)),
            ("keys in several catalogs", report.shared_keys),
            ("keys in one catalog only", report.single_catalog_keys),
            ("ambiguous keys", keys),
        ),
        sections=(_compared(report), _sources(report), _ambiguous(report)),
        empty_text="nothing to compare"
        if report.reason
        else "no model is priced in two of these catalogs",
    )
