"""What each catalog listed at a time: its models, their match keys and their prices, read
for ``catalog-etl compare`` (:mod:`etl.read.compare`) in two set queries, whatever the
number of models."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import Connection, select

from etl.db.state import stored_price, valid_at
from etl.db.tables import (
    catalogs_table,
    model_availability_table,
    model_versions_table,
    models_table,
    prices_table,
    providers_table,
    vendors_table,
)
from etl.ingest.money import Price

ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class CatalogSeen:
    name: str
    observed_at: datetime | None
    """Its latest successful observation at or before the time asked for; None before its
    first."""


@dataclass(frozen=True)
class Offer:
    """One model as one catalog listed it at a time."""

    catalog: str
    provider: str
    model: str
    vendor: str
    match_key: str
    priced: bool
    """False when its version then had no pricing block: unpriced, not free."""
    prices: Mapping[str, Price]
    """Its non-zero components then (of the components read)."""

    def price(self, component: str) -> Price | None:
        """``0`` for a component a priced model does not list; None when unpriced."""
        return self.prices.get(component, ZERO) if self.priced else None


def offers_as_of(
    connection: Connection,
    as_of: datetime,
    catalogs: Collection[str],
    components: Collection[str],
) -> list[Offer]:
    """Every model the named catalogs listed at ``as_of`` (an availability interval holds
    it), with its version's priced flag and its price rows for ``components`` then."""
    names = sorted(catalogs)
    listed = (
        select(models_table.c.id)
        .join(providers_table, providers_table.c.id == models_table.c.provider_id)
        .join(catalogs_table, catalogs_table.c.id == providers_table.c.catalog_id)
        .join(model_availability_table, model_availability_table.c.model_id == models_table.c.id)
        .where(valid_at(model_availability_table, as_of), catalogs_table.c.name.in_(names))
    )
    prices: dict[int, dict[str, Price]] = defaultdict(dict)
    for model_id, component, amount, dynamic in connection.execute(
        select(
            prices_table.c.model_id,
            prices_table.c.component,
            prices_table.c.amount,
            prices_table.c.dynamic,
        ).where(
            valid_at(prices_table, as_of),
            prices_table.c.component.in_(sorted(components)),
            prices_table.c.model_id.in_(listed.scalar_subquery()),
        )
    ).all():
        prices[model_id][component] = stored_price(amount, dynamic)
    rows = connection.execute(
        listed.add_columns(
            catalogs_table.c.name,
            providers_table.c.name,
            models_table.c.model,
            vendors_table.c.name,
            models_table.c.match_key,
            model_versions_table.c.priced,
        )
        .join(vendors_table, vendors_table.c.id == models_table.c.vendor_id)
        .join(model_versions_table, model_versions_table.c.model_id == models_table.c.id)
        .where(valid_at(model_versions_table, as_of))
    ).all()
    return [
        Offer(catalog, provider, model, vendor, key, priced, prices.get(model_id, {}))
        for model_id, catalog, provider, model, vendor, key, priced in rows
    ]
