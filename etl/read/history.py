"""One model's timeline: read-only queries on the history (price series for charts are in
:mod:`etl.read.price_series`, also importable from here).

A timeline is built from :func:`etl.read.change_events.change_events` over all time, narrowed
to the model, plus the stored intervals themselves, so ``history`` and ``diff --events`` cannot
disagree about what changed when.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from etl.db.state import PRICE_INTERVAL_COLUMNS, stored_price
from etl.db.tables import model_availability_table, model_versions_table, prices_table
from etl.ingest.money import Price as PriceValue
from etl.ingest.money import price_text
from etl.read.catalogs import CatalogScope, catalog_scope, named
from etl.read.change_events import change_events
from etl.read.changes import ChangeReport, FieldChange
from etl.read.price_series import PriceSeries as PriceSeries
from etl.read.price_series import price_series as price_series
from etl.read.queries import ModelInfo, model_directory
from etl.read.units import component_order, decimal_text, per_million, unit
from etl.times import iso

_IDENTITY = frozenset({"provider", "model", "vendor", "name", "at"})
"""Keys a timeline states once, not on each of its changes."""


class ModelNotFound(LookupError):
    """No stored model has that id (or it is ambiguous across providers or catalogs)."""


def find_models(
    connection: Connection,
    model: str,
    provider: str | None = None,
    catalogs: CatalogScope | None = None,
) -> list[ModelInfo]:
    """The stored model with this upstream id (and provider, when several gateways list
    it) in each catalog read that has it: one per catalog."""
    scope = catalogs or catalog_scope(connection)
    found = [
        info
        for info in model_directory(connection, model=model, catalogs=scope).values()
        if provider is None or info.provider == provider
    ]
    by_catalog: dict[str | None, list[ModelInfo]] = defaultdict(list)
    for info in found:
        by_catalog[info.catalog].append(info)
    for infos in by_catalog.values():
        if len(infos) > 1:
            providers = ", ".join(info.provider for info in infos)
            raise ModelNotFound(f"{model} is listed by several providers ({providers}): pick one")
    if found:
        return found
    known = sorted({info.model for info in model_directory(connection, catalogs=scope).values()})
    close = difflib.get_close_matches(model, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ModelNotFound(f"no model {model!r} in the history{hint}")


def find_model(
    connection: Connection,
    model: str,
    provider: str | None = None,
    catalogs: CatalogScope | None = None,
) -> ModelInfo:
    """The stored model with this upstream id (and provider, when several gateways list
    it), in the one catalog read that has it."""
    found = find_models(connection, model, provider, catalogs)
    if len(found) > 1:
        listed = ", ".join(str(info.catalog) for info in found)
        raise ModelNotFound(f"{model} is in several catalogs ({listed}): pick one with --catalog")
    return found[0]


@dataclass(frozen=True)
class AvailabilitySpan:
    available_from: datetime
    available_until: datetime | None
    """The first observation that no longer listed it; None while listed."""
    last_seen_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "from": iso(self.available_from),
            "until": iso(self.available_until) if self.available_until else None,
            "last_seen_at": iso(self.last_seen_at) if self.last_seen_at else None,
        }


@dataclass(frozen=True)
class VersionEntry:
    version: int
    valid_from: datetime
    valid_to: datetime | None
    name: str | None
    context_length: int | None
    changes: tuple[FieldChange, ...]
    """What differs from the previous version; empty for the first."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to) if self.valid_to else None,
            "name": self.name,
            "context_length": self.context_length,
            "changes": [
                {k: v for k, v in c.to_json().items() if k not in _IDENTITY} for c in self.changes
            ],
        }


@dataclass(frozen=True)
class PriceInterval:
    """A stored price row: one non-zero component over an interval."""

    component: str
    price: PriceValue
    valid_from: datetime
    valid_to: datetime | None

    @property
    def unit(self) -> str:
        return unit(self.component)

    @property
    def per_million(self) -> Decimal | None:
        return per_million(self.price, self.component)

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "unit": self.unit,
            "price": price_text(self.price),
            "per_million": decimal_text(self.per_million),
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to) if self.valid_to else None,
        }


@dataclass(frozen=True)
class ModelHistory:
    info: ModelInfo
    name: str | None
    """The latest name."""
    availability: tuple[AvailabilitySpan, ...]
    versions: tuple[VersionEntry, ...]
    prices: tuple[PriceInterval, ...]
    events: ChangeReport
    """Every change of the model, with its time (price changes included)."""
    catalog: str | None = None
    """Its catalog, when the database holds several or one was asked for."""

    def to_json(self) -> dict[str, Any]:
        info = self.info
        return named(self.catalog) | {
            "provider": info.provider,
            "model": info.model,
            "vendor": info.vendor,
            "name": self.name,
            "first_seen_at": iso(info.first_seen_at),
            "last_seen_at": iso(info.last_seen_at),
            "available": info.available,
            "availability": [span.to_json() for span in self.availability],
            "versions": [version.to_json() for version in self.versions],
            "prices": [interval.to_json() for interval in self.prices],
            **{
                section: [
                    {k: v for k, v in change.to_json().items() if k not in _IDENTITY - {"at"}}
                    for change in getattr(self.events, section)
                ]
                for section in ("price_changes", "rounding_noise")
            },
        }


def model_history(
    connection: Connection,
    model: str,
    provider: str | None = None,
    *,
    include_noise: bool = False,
    catalogs: CatalogScope | None = None,
) -> ModelHistory:
    """The whole timeline of one model (in the one catalog read that has it): availability,
    versions with what changed, prices (price changes that are rounding noise apart, unless
    ``include_noise``)."""
    scope = catalogs or catalog_scope(connection)
    info = find_model(connection, model, provider, scope)
    events = change_events(
        connection,
        None,
        None,
        model_ids=[info.id],
        sort="time",
        include_noise=include_noise,
        catalogs=scope,
    )
    availability = tuple(
        AvailabilitySpan(row.valid_from, row.valid_to, row.last_seen_at)
        for row in connection.execute(
            select(
                model_availability_table.c.valid_from,
                model_availability_table.c.valid_to,
                model_availability_table.c.last_seen_at,
            )
            .where(model_availability_table.c.model_id == info.id)
            .order_by(model_availability_table.c.valid_from)
        )
    )
    versions = _versions(connection, info.id, events)
    prices = sorted(
        (
            PriceInterval(
                row.component, stored_price(row.amount, row.dynamic), row.valid_from, row.valid_to
            )
            for row in connection.execute(
                select(*PRICE_INTERVAL_COLUMNS).where(prices_table.c.model_id == info.id)
            )
        ),
        key=lambda interval: (component_order(interval.component), interval.valid_from),
    )
    name = versions[-1].name if versions else None
    catalog = info.catalog or (scope.shown[0] if scope.shown else None)
    return ModelHistory(info, name, availability, versions, tuple(prices), events, catalog)


def _versions(
    connection: Connection, model_id: int, events: ChangeReport
) -> tuple[VersionEntry, ...]:
    """The model's versions, each with the field changes that made it."""
    changes_at: dict[datetime, list[FieldChange]] = defaultdict(list)
    for change in events.changes:
        assert change.at is not None  # events always carry their time
        changes_at[change.at].append(change)
    return tuple(
        VersionEntry(
            row.version,
            row.valid_from,
            row.valid_to,
            row.name,
            row.context_length,
            tuple(changes_at.get(row.valid_from, ())) if row.version > 1 else (),
        )
        for row in connection.execute(
            select(
                model_versions_table.c.version,
                model_versions_table.c.valid_from,
                model_versions_table.c.valid_to,
                model_versions_table.c.name,
                model_versions_table.c.context_length,
            )
            .where(model_versions_table.c.model_id == model_id)
            .order_by(model_versions_table.c.version)
        )
    )
