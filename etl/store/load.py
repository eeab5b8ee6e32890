"""Apply a catalog to the database as one set of changes.

The work is proportional to what changed, not to the catalog: one query reads every
known model's source hash; a model whose raw record still has that hash is not even
validated. Only changed models are normalized and have their stored state read (a few
IN-list queries for all of them), and only real changes are written, in bulk. Nothing here
commits: the caller's transaction makes the whole sync apply completely or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from etl.db.bulk import chunked, ensure_names, insert_returning_ids, insert_rows
from etl.db.state import read_stored
from etl.db.tables import (
    model_versions_table,
    models_table,
    prices_table,
    providers_table,
    vendors_table,
)
from etl.ingest.match import match_key
from etl.ingest.money import DYNAMIC
from etl.ingest.money import Price as PriceValue
from etl.ingest.normalize import Catalog, ModelRecord, ModelState, merge
from etl.ingest.shapes import RawCatalog
from etl.store.availability import (
    close_availability,
    mark_seen,
    open_availability,
    record_provider_states,
)
from etl.store.guard import RemovalGuard
from etl.store.versions import write_versions


@dataclass
class LoadCounts:
    models_seen: int = 0
    added: int = 0
    removed: int = 0
    returned: int = 0
    versions_written: int = 0
    price_changes: int = 0


@dataclass
class _Changes:
    """Rows to write, gathered first so each kind is written in one statement."""

    versions: list[tuple[int, int, ModelState]] = field(default_factory=list)
    """(model id, version number, state)"""
    versions_to_close: list[int] = field(default_factory=list)
    prices: list[tuple[int, str, PriceValue]] = field(default_factory=list)
    prices_to_close: list[int] = field(default_factory=list)
    source_hashes: list[tuple[int, str]] = field(default_factory=list)
    price_changes: int = 0


@dataclass
class Applied:
    """What applying one catalog did."""

    counts: LoadCounts
    catalog: Catalog
    """The normalized catalog, with its warnings."""
    held: dict[str, str]
    """Providers kept as they were, each with the reason (see :mod:`etl.store.guard`)."""
    providers: dict[str, bool]
    """The providers the payload spoke for (held ones included), and whether each is
    configured: the run records them."""
    price_rows: int = 0
    """Price rows opened (a price change closes one and opens another)."""


def apply_catalog(
    connection: Connection,
    raw: RawCatalog,
    *,
    catalog_id: int,
    observed_at: datetime,
    run_id: int,
    guard: RemovalGuard | None = None,
    hold: Mapping[str, str] | None = None,
    consume: bool = False,
) -> Applied:
    """Write what ``raw`` changes in catalog ``catalog_id``, observed at ``observed_at``, on
    behalf of run ``run_id``.

    Records whose raw form is the one applied last are not validated again; the others are
    validated and normalized (:func:`~etl.ingest.validate.build_catalog`), then compared with
    the stored state.

    ``guard``: hold the providers whose catalog would retire too many models.
    ``hold``: providers to keep as they were whatever their catalog says (a run replayed as
    it was first applied), with the reason.
    ``consume``: empty ``raw.records`` once they are normalized, so that the parsed payload
    is freed before the rows are written (a third less peak memory on a large first load);
    only for a caller that holds no other reference to the parsed document.
    """
    raw, provider_ids = _providers(connection, raw, catalog_id, observed_at)
    known = _known_models(connection, provider_ids)
    from etl.ingest.validate import build_catalog  # here: a same-payload resync never validates

    catalog = build_catalog(raw, {key: row.source_hash for key, row in known.items()})
    if consume:
        raw.records.clear()
    listed, complete, gone = _listing(catalog, known)
    held = dict(hold or {})
    if guard is not None:
        held.update(guard.held(known, gone))
    if held:
        catalog, known = _without(held, catalog, known)
        listed, complete, gone = _listing(catalog, known)
    record_provider_states(connection, catalog.providers, provider_ids, observed_at, run_id)

    fresh, changed, returning = _sort_records(catalog, known)
    changes = _Changes()
    _add_new_models(connection, fresh, provider_ids, observed_at, run_id, changes)
    _diff_changed_models(connection, changed, changes)

    close_availability(connection, gone, observed_at)
    open_availability(connection, returning, observed_at, run_id)
    _write(connection, changes, observed_at, run_id)
    mark_seen(connection, catalog_id, complete, observed_at)

    counts = LoadCounts(
        models_seen=len(listed),
        added=len(fresh),
        removed=len(gone),
        returned=len(returning),
        versions_written=len(changes.versions),
        price_changes=changes.price_changes,
    )
    return Applied(counts, catalog, held, raw.providers, len(changes.prices))


def _providers(
    connection: Connection, raw: RawCatalog, catalog_id: int, observed_at: datetime
) -> tuple[RawCatalog, dict[str, int]]:
    """The catalog's providers this payload speaks for, by name and id. A payload that lists
    every provider of its source also speaks for the ones its catalog held before and it no
    longer names, as configured and empty: their models are gone."""
    if raw.complete:
        known = connection.execute(
            select(providers_table.c.name).where(providers_table.c.catalog_id == catalog_id)
        ).scalars()
        absent = {name: True for name in known if name not in raw.providers}
        raw = replace(raw, providers={**raw.providers, **absent}) if absent else raw
    ids = ensure_names(
        connection,
        providers_table,
        raw.providers,
        scope={"catalog_id": catalog_id},
        first_seen_at=observed_at,
    )
    return raw, ids


def _without(
    held: Mapping[str, str], catalog: Catalog, known: dict[tuple[str, str], Any]
) -> tuple[Catalog, dict[tuple[str, str], Any]]:
    """The catalog and the stored models without the held providers: as if the catalog
    had not spoken for them."""

    def kept(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        return {key for key in keys if key[0] not in held}

    trimmed = Catalog(
        catalog.shape,
        {name: on for name, on in catalog.providers.items() if name not in held},
        [record for record in catalog.records if record.provider not in held],
        listed_but_rejected=kept(catalog.listed_but_rejected),
        unchanged=kept(catalog.unchanged),
        warnings=catalog.warnings,
    )
    return trimmed, {key: row for key, row in known.items() if key[0] not in held}


def _known_models(
    connection: Connection, provider_ids: dict[str, int]
) -> dict[tuple[str, str], Any]:
    """The stored models of these providers by (provider, model): id, availability and the
    fingerprint of the raw record applied last."""
    names = {provider_id: name for name, provider_id in provider_ids.items()}
    return {
        (names[row.provider_id], row.model): row
        for row in connection.execute(
            select(
                models_table.c.id,
                models_table.c.provider_id,
                models_table.c.model,
                models_table.c.available,
                models_table.c.source_hash,
            ).where(models_table.c.provider_id.in_(provider_ids.values()))
        ).all()  # one fetchall: row by row costs a driver call per model
    }


def _listing(
    catalog: Catalog, known: dict[tuple[str, str], Any]
) -> tuple[set[tuple[str, str]], set[str], list[int]]:
    """What the catalog lists (valid or not), the providers it speaks for completely (the
    configured ones), and the ids of their available models it no longer lists."""
    listed = {(r.provider, r.model) for r in catalog.records}
    listed |= catalog.listed_but_rejected | catalog.unchanged
    complete = {name for name, configured in catalog.providers.items() if configured}
    gone = [
        row.id
        for (name, model), row in known.items()
        if row.available and name in complete and (name, model) not in listed
    ]
    return listed, complete, gone


def _sort_records(
    catalog: Catalog, known: dict[tuple[str, str], Any]
) -> tuple[list[ModelRecord], list[tuple[ModelRecord, int]], list[int]]:
    """The catalog's records split into new models, models to compare with their stored
    state (with their ids), and the ids of models listed again after an absence."""
    fresh: list[ModelRecord] = []
    changed: list[tuple[ModelRecord, int]] = []
    returning = [known[key].id for key in catalog.unchanged if not known[key].available]
    for record in catalog.records:
        row = known.get((record.provider, record.model))
        if row is None:
            fresh.append(record)
            continue
        if not row.available:
            returning.append(row.id)
        changed.append((record, row.id))
    return fresh, changed, returning


def _add_new_models(
    connection: Connection,
    fresh: list[ModelRecord],
    provider_ids: dict[str, int],
    observed_at: datetime,
    run_id: int,
    changes: _Changes,
) -> None:
    if not fresh:
        return
    vendor_ids = ensure_names(connection, vendors_table, {record.vendor for record in fresh})
    new_ids = insert_returning_ids(
        connection,
        models_table,
        [
            {
                "provider_id": provider_ids[record.provider],
                "model": record.model,
                "match_key": match_key(record.model, record.provider),
                "vendor_id": vendor_ids[record.vendor],
                "first_seen_at": observed_at,
                "available": True,
                "source_hash": record.source_hash,
                "source_hash_at": observed_at,
            }
            for record in fresh
        ],
    )
    for record, model_id in zip(fresh, new_ids, strict=True):
        state = merge(None, record)
        changes.versions.append((model_id, 1, state))
        changes.prices.extend((model_id, component, p) for component, p in state.prices.items())
    open_availability(connection, new_ids, observed_at, run_id, already_available=True)


def _diff_changed_models(
    connection: Connection, changed: list[tuple[ModelRecord, int]], changes: _Changes
) -> None:
    if not changed:
        return
    stored = read_stored(connection, [model_id for _, model_id in changed])
    for record, model_id in changed:
        previous = stored[model_id]
        state = merge(previous.state, record)
        changes.source_hashes.append((model_id, record.source_hash))
        if state.content_hash != previous.state.content_hash:
            changes.versions_to_close.append(previous.version_id)
            changes.versions.append((model_id, previous.version + 1, state))
        old_prices, new_prices = previous.state.prices, state.prices
        for component in sorted(old_prices.keys() | new_prices.keys()):
            old, new = old_prices.get(component), new_prices.get(component)
            if old == new:
                continue
            changes.price_changes += 1
            if old is not None:
                changes.prices_to_close.append(previous.price_row_ids[component])
            if new is not None:
                changes.prices.append((model_id, component, new))


def _write(connection: Connection, changes: _Changes, observed_at: datetime, run_id: int) -> None:
    # Close before opening: the partial unique indexes allow one current row per key.
    for chunk in chunked(changes.versions_to_close):
        connection.execute(
            update(model_versions_table)
            .where(model_versions_table.c.id.in_(chunk))
            .values(valid_to=observed_at)
        )
    for chunk in chunked(changes.prices_to_close):
        connection.execute(
            update(prices_table).where(prices_table.c.id.in_(chunk)).values(valid_to=observed_at)
        )
    if changes.source_hashes:
        connection.execute(
            update(models_table)
            .where(models_table.c.id == bindparam("model_id"))
            .values(source_hash=bindparam("source_hash"), source_hash_at=observed_at),
            [{"model_id": i, "source_hash": h} for i, h in changes.source_hashes],
        )
    if changes.prices:
        insert_rows(
            connection,
            prices_table,
            [
                {
                    "model_id": model_id,
                    "component": component,
                    "amount": None if price == DYNAMIC else price,
                    "dynamic": price == DYNAMIC,
                    "valid_from": observed_at,
                    "sync_run_id": run_id,
                }
                for model_id, component, price in changes.prices
            ],
        )
    write_versions(connection, changes.versions, observed_at, run_id)
