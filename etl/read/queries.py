"""Read the history: the catalog as of a time, the models a report covers, the latest state
of each model at a time, and the runs. What changed between two times is in
:mod:`etl.read.net_changes` and :mod:`etl.read.change_events`.

Read-only. Every report and command output is built from these functions (and from
:mod:`etl.read.net_changes`, :mod:`etl.read.change_events`, :mod:`etl.read.history` and
:mod:`etl.read.prices`), so the
JSON, the tables, Markdown, CSV, HTML and charts agree by construction. Prices stay
:class:`~decimal.Decimal` here; turning them into text is the renderers' last step.

Every query works on sets: a report costs a handful of queries, whatever the number of
models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, case, func, or_, select

from etl.db.bulk import chunked
from etl.db.state import read_stored, stored_price, valid_at
from etl.db.tables import (
    capability_categories_table,
    categories_table,
    model_availability_table,
    model_versions_table,
    models_table,
    prices_table,
    providers_table,
    sync_runs_table,
    vendors_table,
)
from etl.ingest.money import Price as PriceValue
from etl.ingest.money import price_text
from etl.ingest.normalize import ModelState
from etl.read.catalogs import (
    UNFILTERED,
    CatalogScope,
    catalog_scope,
    latest_observations,
    named,
    observed_json,
)
from etl.read.filters import NO_FILTERS as NO_FILTERS
from etl.read.filters import Filters as Filters
from etl.times import iso

ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class CatalogEntry:
    provider: str
    model: str
    vendor: str
    state: ModelState
    catalog: str | None = None
    """Its catalog, when the snapshot spans several."""

    def pricing(self) -> dict[str, str] | None:
        """Non-zero components as canonical decimal text or ``"dynamic"``; None when unpriced."""
        if not self.state.content["priced"]:
            return None
        return {k: price_text(v) for k, v in sorted(self.state.prices.items())}

    def to_json(self) -> dict[str, Any]:
        content = self.state.content
        return named(self.catalog) | {
            "provider": self.provider,
            "model": self.model,
            "name": content["name"],
            "vendor": self.vendor,
            "context_length": content["context_length"],
            "max_completion_tokens": content["max_completion_tokens"],
            "input_modalities": list(content["input_modalities"]),
            "output_modalities": list(content["output_modalities"]),
            "categories": list(content["categories"]),
            "supported_parameters": list(content["supported_parameters"]),
            "pricing": self.pricing(),
        }


@dataclass(frozen=True)
class Snapshot:
    as_of: datetime
    observed_at: datetime | None
    """The latest successful observation at or before ``as_of``, of any catalog read; None
    before the first."""
    entries: dict[tuple[str, str, str], CatalogEntry]
    """By catalog (empty when not named), provider and model."""
    catalogs: tuple[tuple[str, datetime | None], ...] = ()
    """Each catalog named, with its own latest observation at or before ``as_of``."""


def latest_observation(
    connection: Connection, as_of: datetime | None = None, catalogs: CatalogScope | None = None
) -> datetime | None:
    """The latest successful observation at or before ``as_of`` (the latest of all if None),
    of the catalogs read (all when None)."""
    query = select(func.max(sync_runs_table.c.observed_at)).where(
        sync_runs_table.c.status == "succeeded"
    )
    if catalogs is not None:
        query = catalogs.where_catalog(query, sync_runs_table.c.catalog_id)
    if as_of is not None:
        query = query.where(sync_runs_table.c.observed_at <= as_of)
    observed: datetime | None = connection.execute(query).scalar_one()
    return observed


def catalog_as_of(
    connection: Connection, as_of: datetime, catalogs: CatalogScope | None = None
) -> Snapshot:
    """Every model available at ``as_of`` (in the catalogs read), with its state then. Each
    catalog's rows only change at its own observations, so the state at the latest
    observation of any catalog is every catalog's state at its own latest one."""
    scope = catalogs or catalog_scope(connection)
    observed_at = latest_observation(connection, as_of, scope)
    times = latest_observations(connection, scope, as_of)
    if observed_at is None:
        return Snapshot(as_of, None, {}, times)
    query = (
        select(
            models_table.c.id,
            providers_table.c.catalog_id,
            providers_table.c.name.label("provider"),
            models_table.c.model,
            vendors_table.c.name.label("vendor"),
        )
        .join(providers_table, models_table.c.provider_id == providers_table.c.id)
        .join(vendors_table, models_table.c.vendor_id == vendors_table.c.id)
        .join(model_availability_table, model_availability_table.c.model_id == models_table.c.id)
        .where(valid_at(model_availability_table, observed_at))
    )
    rows = connection.execute(scope.where_catalog(query, providers_table.c.catalog_id)).all()
    ids = None if scope.ids is None else [row.id for row in rows]
    states = read_stored(connection, ids, as_of=observed_at)
    entries = {
        (scope.label(row.catalog_id) or "", row.provider, row.model): CatalogEntry(
            row.provider, row.model, row.vendor, states[row.id].state, scope.label(row.catalog_id)
        )
        for row in rows
    }
    return Snapshot(as_of, observed_at, dict(sorted(entries.items())), times)


def models_report(
    connection: Connection, as_of: datetime, catalogs: CatalogScope | None = None
) -> dict[str, Any]:
    """The document behind ``catalog-etl models``."""
    snapshot = catalog_as_of(connection, as_of, catalogs)
    return {
        "as_of": iso(snapshot.as_of),
        "observed_at": iso(snapshot.observed_at) if snapshot.observed_at else None,
        **observed_json(snapshot.catalogs),
        "models": [entry.to_json() for entry in snapshot.entries.values()],
    }


def scoped(
    query: Any,
    column: Any,
    scope: Collection[int] | None,
    catalogs: CatalogScope | None = None,
) -> Iterator[Any]:
    """The query once when ``scope`` is None (every model), else once per chunk of its ids
    (bounded IN lists; nothing at all for an empty scope); kept to the models of
    ``catalogs`` when given, ``column`` holding a model id."""
    if catalogs is not None:
        query = catalogs.where_model(query, column)
    if scope is None:
        yield query
        return
    for chunk in chunked(sorted(scope)):
        yield query.where(column.in_(chunk))


# --- Which models a report covers -------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """A model's identity: what every report row names."""

    id: int
    provider: str
    model: str
    vendor: str
    first_seen_at: datetime
    last_seen_at: datetime
    available: bool
    catalog: str | None = None
    """Its catalog, when the models read span several."""

    @property
    def key(self) -> tuple[str, str, str]:
        """What tells it from every other model read: catalog, provider, model id."""
        return (self.catalog or "", self.provider, self.model)


def last_seen_at() -> Any:
    """When a model was last listed, as a column (the query must join its provider): the
    provider's latest complete observation while it is available, else when its latest
    availability interval last saw it."""
    closed = (
        select(func.max(model_availability_table.c.last_seen_at))
        .where(model_availability_table.c.model_id == models_table.c.id)
        .scalar_subquery()
    )
    return case((models_table.c.available, providers_table.c.last_observed_at), else_=closed)


def model_directory(
    connection: Connection,
    filters: Filters = NO_FILTERS,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    model_ids: Collection[int] | None = None,
    model: str | None = None,
    catalogs: CatalogScope | None = None,
) -> dict[int, ModelInfo]:
    """Every model of the catalogs read (all when None) matching ``filters`` (categories
    held between ``since`` and ``until``), by id; only ``model_ids``, or the models with
    upstream id ``model``, when given. The models table is small (one row per model ever
    seen), so otherwise it is read whole."""
    scope = catalogs or catalog_scope(connection)
    query = (
        select(
            models_table.c.id,
            providers_table.c.name,
            models_table.c.model,
            vendors_table.c.name,
            models_table.c.first_seen_at,
            last_seen_at(),
            models_table.c.available,
            providers_table.c.catalog_id,
        )
        .join(providers_table, models_table.c.provider_id == providers_table.c.id)
        .join(vendors_table, models_table.c.vendor_id == vendors_table.c.id)
    )
    query = scope.where_catalog(query, providers_table.c.catalog_id)
    if model is not None:
        query = query.where(models_table.c.model == model)
    rows = [
        row
        for chunk in scoped(query, models_table.c.id, model_ids)
        for row in connection.execute(chunk).all()
    ]
    # Plain tuples: attribute access on thousands of rows costs more than the query.
    everything = not (filters.vendors or filters.models)
    directory = {
        model_id: ModelInfo(
            model_id, provider, upstream, vendor, first, last, available, scope.label(catalog)
        )
        for model_id, provider, upstream, vendor, first, last, available, catalog in rows
        if everything or filters.matches(vendor, upstream)
    }
    if filters.categories:
        in_categories = _models_in_categories(connection, filters.categories, since, until)
        directory = {key: info for key, info in directory.items() if key in in_categories}
    return dict(sorted(directory.items(), key=lambda item: item[1].key))


def _models_in_categories(
    connection: Connection,
    categories: Iterable[str],
    since: datetime | None,
    until: datetime | None,
) -> set[int]:
    query = (
        select(model_versions_table.c.model_id)
        .distinct()
        .join(
            capability_categories_table,
            capability_categories_table.c.capability_set_id
            == model_versions_table.c.capability_set_id,
        )
        .join(categories_table, categories_table.c.id == capability_categories_table.c.category_id)
        .where(func.lower(categories_table.c.name).in_([c.lower() for c in categories]))
    )
    if until is not None:
        query = query.where(model_versions_table.c.valid_from <= until)
    if since is not None:
        query = query.where(
            or_(model_versions_table.c.valid_to.is_(None), model_versions_table.c.valid_to > since)
        )
    return set(connection.execute(query).scalars())


@dataclass(frozen=True)
class ModelHead:
    """What reports show of a model at a time: its version, name, context and prices,
    without the sets and texts a full state carries (cheap to read for every model)."""

    model_id: int
    version_id: int
    name: str | None
    context_length: int | None
    priced: bool
    prices: Mapping[str, PriceValue]
    """Non-zero components."""

    def price(self, component: str) -> PriceValue | None:
        """``0`` for a component a priced model does not list; None when unpriced."""
        return self.prices.get(component, ZERO) if self.priced else None


@dataclass(frozen=True)
class Heads:
    observed_at: datetime | None
    """The latest successful observation at or before the time asked for."""
    listed: frozenset[int]
    """The models available then."""
    models: dict[int, ModelHead]
    """Every model that had a version then, listed or not."""


def heads_as_of(
    connection: Connection, moment: datetime, catalogs: CatalogScope | None = None
) -> Heads:
    """Every model's head as of ``moment`` (in the catalogs read; all when None): three flat
    queries, no per-model work."""
    observed_at = latest_observation(connection, moment, catalogs)
    if observed_at is None:
        return Heads(None, frozenset(), {})
    scope = catalogs or UNFILTERED
    listed = frozenset(
        connection.execute(
            scope.where_model(
                select(model_availability_table.c.model_id).where(
                    valid_at(model_availability_table, observed_at)
                ),
                model_availability_table.c.model_id,
            )
        )
        .scalars()
        .all()
    )
    prices: dict[int, dict[str, PriceValue]] = defaultdict(dict)
    price_query = select(
        prices_table.c.model_id,
        prices_table.c.component,
        prices_table.c.amount,
        prices_table.c.dynamic,
    ).where(valid_at(prices_table, observed_at))
    price_rows = connection.execute(scope.where_model(price_query, prices_table.c.model_id))
    for model_id, component, amount, dynamic in price_rows.all():
        prices[model_id][component] = stored_price(amount, dynamic)
    version_query = select(
        model_versions_table.c.model_id,
        model_versions_table.c.id,
        model_versions_table.c.name,
        model_versions_table.c.context_length,
        model_versions_table.c.priced,
    ).where(valid_at(model_versions_table, observed_at))
    versions = connection.execute(
        scope.where_model(version_query, model_versions_table.c.model_id)
    ).all()
    models = {
        model_id: ModelHead(model_id, version_id, name, context, priced, prices.get(model_id, {}))
        for model_id, version_id, name, context, priced in versions
    }
    return Heads(observed_at, listed, models)
