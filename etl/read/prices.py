"""Price tables: every model's price per 1M tokens as of a time (``catalog-etl prices``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection

from etl.ingest.money import DYNAMIC
from etl.ingest.money import Price as PriceValue
from etl.read.catalogs import (
    CatalogScope,
    catalog_scope,
    latest_observations,
    named,
    observed_json,
)
from etl.read.queries import NO_FILTERS, Filters, ModelHead, ModelInfo, heads_as_of, model_directory
from etl.read.units import decimal_text, per_million, price_value_text, unit
from etl.times import iso

DEFAULT_COMPONENTS: Final = ("prompt", "completion")
OTHER_SORTS: Final = ("model", "vendor", "context")


@dataclass(frozen=True)
class PriceRow:
    info: ModelInfo
    head: ModelHead

    @property
    def model(self) -> str:
        return self.info.model

    def price(self, component: str) -> PriceValue | None:
        return self.head.price(component)


@dataclass(frozen=True)
class PriceTable:
    as_of: datetime
    observed_at: datetime | None
    components: tuple[str, ...]
    """The price columns, in order."""
    sort: str
    filters: Filters
    rows: tuple[PriceRow, ...]
    catalogs: tuple[tuple[str, datetime | None], ...] = ()
    """The catalogs the table names, each with its own latest observation at or before
    ``as_of``; every row names its catalog when they are several."""

    @property
    def named(self) -> bool:
        return len(self.catalogs) > 1

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": iso(self.as_of),
            "observed_at": iso(self.observed_at) if self.observed_at else None,
            **observed_json(self.catalogs),
            "components": list(self.components),
            "units": {component: unit(component) for component in self.components},
            "sort": self.sort,
            "filters": self.filters.to_json(),
            "models": [
                named(row.info.catalog)
                | {
                    "provider": row.info.provider,
                    "model": row.info.model,
                    "vendor": row.info.vendor,
                    "name": row.head.name,
                    "context_length": row.head.context_length,
                    "prices": {c: price_value_text(row.price(c)) for c in self.components},
                    "per_million": {
                        c: decimal_text(per_million(row.price(c), c)) for c in self.components
                    },
                }
                for row in self.rows
            ],
        }


def _price_key(price: PriceValue | None) -> tuple[int, Decimal]:
    """Cheapest first; dynamic, then unpriced, last."""
    if price is None:
        return (2, Decimal(0))
    if price == DYNAMIC:
        return (1, Decimal(0))
    assert isinstance(price, Decimal)
    return (0, price)


def price_table(
    connection: Connection,
    as_of: datetime,
    filters: Filters = NO_FILTERS,
    *,
    components: Sequence[str] = (),
    sort: str = "model",
    min_context: int | None = None,
    limit: int | None = None,
    catalogs: CatalogScope | None = None,
) -> PriceTable:
    """The catalogs read (all when None) as of ``as_of``, one row per model, with the chosen
    components (the filters' components, or prompt and completion). ``sort`` is a component
    (cheapest first), ``model``, ``vendor`` or ``context`` (largest first)."""
    columns = tuple(components or filters.components or DEFAULT_COMPONENTS)
    if sort not in OTHER_SORTS and sort not in columns:
        columns = (*columns, sort)
    scope = catalogs or catalog_scope(connection)
    directory = model_directory(connection, filters, as_of, as_of, catalogs=scope)
    heads = heads_as_of(connection, as_of, scope)
    rows = [
        PriceRow(directory[model_id], heads.models[model_id])
        for model_id in heads.listed
        if model_id in directory
        and (min_context is None or (heads.models[model_id].context_length or 0) >= min_context)
    ]
    rows.sort(key=lambda row: row.info.key)
    if sort == "vendor":
        rows.sort(key=lambda row: row.info.vendor)
    elif sort == "context":
        rows.sort(key=lambda row: -(row.head.context_length or 0))
    elif sort != "model":
        rows.sort(key=lambda row: _price_key(row.price(sort)))
    if limit is not None:
        rows = rows[:limit]
    times = latest_observations(connection, scope, as_of)
    return PriceTable(as_of, heads.observed_at, columns, sort, filters, tuple(rows), times)
