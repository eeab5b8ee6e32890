"""Apply a catalog to the database as one set of changes.

The work is proportional to what changed, not to the catalog: one query reads every
known model's source hash; a model whose raw record still has that hash is not even
validated. Only changed models are normalized and have their stored state read (a few
IN-list queries for all of them), and only real changes are written, in bulk. Nothing here
commits: the caller's transaction makes the whole sync apply completely or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from etl.db.bulk import chunked, insert_returning_ids, insert_rows
from etl.db.state import read_stored
from etl.db.tables import (
    capability_categories_table,
    capability_modalities_table,
    capability_parameters_table,
    capability_sets_table,
    categories_table,
    modalities_table,
    model_availability_table,
    model_versions_table,
    models_table,
    parameters_table,
    prices_table,
    provider_states_table,
    providers_table,
    vendors_table,
)
from etl.errors import SyncHeld
from etl.ingest.money import DYNAMIC
from etl.ingest.money import Price as PriceValue
from etl.ingest.normalize import (
    SCALAR_FIELDS,
    SET_FIELDS,
    Catalog,
    ModelRecord,
    ModelState,
    canonical_hash,
    merge,
)
from etl.ingest.shapes import RawCatalog

DEFAULT_MAX_REMOVED_SHARE = 0.25
"""A sync that would retire more than this share of a provider's models is held."""


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

    versions: list[tuple[int, int, ModelState]]
    """(model id, version number, state)"""
    versions_to_close: list[int]
    prices: list[tuple[int, str, PriceValue]]
    prices_to_close: list[int]
    source_hashes: list[tuple[int, str]]
    price_changes: int = 0


def apply_catalog(
    connection: Connection,
    raw: RawCatalog,
    *,
    observed_at: datetime,
    run_id: int,
    max_removed_share: float | None = None,
    consume: bool = False,
) -> tuple[LoadCounts, Catalog]:
    """Write what ``raw`` changes, observed at ``observed_at``, on behalf of run ``run_id``.

    Records whose raw form is the one applied last are not validated again; the others are
    validated and normalized (:func:`~etl.ingest.validate.build_catalog`), then compared with the
    stored state. Returns the counts and the normalized catalog (with its warnings).

    ``max_removed_share``: raise :class:`~etl.errors.SyncHeld` instead of closing the
    availability of more than this share of a provider's available models.
    ``consume``: empty ``raw.records`` once they are normalized, so that the parsed payload
    is freed before the rows are written (a third less peak memory on a large first load);
    only for a caller that holds no other reference to the parsed document.
    """
    provider_ids = _ensure_providers(connection, raw.providers, observed_at)
    names = {provider_id: name for name, provider_id in provider_ids.items()}
    known = {
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
    from etl.ingest.validate import build_catalog  # here: a same-payload resync never validates

    catalog = build_catalog(raw, {key: row.source_hash for key, row in known.items()})
    if consume:
        raw.records.clear()
    listed = {(r.provider, r.model) for r in catalog.records}
    listed |= catalog.listed_but_rejected | catalog.unchanged
    complete = {name for name, configured in catalog.providers.items() if configured}
    gone = [
        row.id
        for key, row in known.items()
        if row.available and key[0] in complete and key not in listed
    ]
    if max_removed_share is not None:
        _guard_removals(known, gone, max_removed_share)
    _record_provider_states(connection, catalog.providers, provider_ids, observed_at, run_id)

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

    changes = _Changes([], [], [], [], [])
    _add_new_models(connection, fresh, provider_ids, observed_at, run_id, changes)
    _diff_changed_models(connection, changed, changes)

    _close_availability(connection, gone, observed_at)
    _open_availability(connection, returning, observed_at, run_id)
    _write(connection, changes, observed_at, run_id)
    mark_seen(connection, complete, observed_at)

    counts = LoadCounts(
        models_seen=len(listed),
        added=len(fresh),
        removed=len(gone),
        returned=len(returning),
        versions_written=len(changes.versions),
        price_changes=changes.price_changes,
    )
    return counts, catalog


def _guard_removals(known: dict[tuple[str, str], Any], gone: list[int], max_share: float) -> None:
    gone_ids = set(gone)
    available: dict[str, list[int]] = defaultdict(list)
    for (provider, _), row in known.items():
        if row.available:
            available[provider].append(row.id)
    for provider, model_ids in sorted(available.items()):
        removed = sum(1 for model_id in model_ids if model_id in gone_ids)
        if removed / len(model_ids) > max_share:
            raise SyncHeld(
                f"held: the catalog would remove {removed} of the {len(model_ids)} available"
                f" models of {provider} ({removed / len(model_ids):.0%}, more than the"
                f" {max_share:.0%} allowed); if that is real, sync again with"
                " --allow-mass-removal"
            )


def _ensure_providers(
    connection: Connection, providers: Iterable[str], observed_at: datetime
) -> dict[str, int]:
    return _ensure_names(connection, providers_table, providers, first_seen_at=observed_at)


def _ensure_names(
    connection: Connection, table: Table, names: Iterable[str], **defaults: Any
) -> dict[str, int]:
    """Ids of the named rows of a lookup table, inserting the missing ones."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    ids: dict[str, int] = {}
    for chunk in chunked(wanted):
        query = select(table.c.name, table.c.id).where(table.c.name.in_(chunk))
        ids.update((name, id_) for name, id_ in connection.execute(query))
    missing = [name for name in wanted if name not in ids]
    if missing:
        inserted = connection.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{"name": name, **defaults} for name in missing],
        )
        ids.update(zip(missing, inserted.scalars(), strict=True))
    return ids


def _record_provider_states(
    connection: Connection,
    providers: dict[str, bool],
    provider_ids: dict[str, int],
    observed_at: datetime,
    run_id: int,
) -> None:
    current = dict(
        connection.execute(
            select(provider_states_table.c.provider_id, provider_states_table.c.configured).where(
                provider_states_table.c.valid_to.is_(None),
                provider_states_table.c.provider_id.in_(provider_ids.values()),
            )
        ).all()
    )
    moved = [
        (provider_ids[name], configured)
        for name, configured in providers.items()
        if current.get(provider_ids[name]) is not configured
    ]
    if not moved:
        return
    ids = [provider_id for provider_id, _ in moved if provider_id in current]
    if ids:
        connection.execute(
            update(provider_states_table)
            .where(
                provider_states_table.c.valid_to.is_(None),
                provider_states_table.c.provider_id.in_(ids),
            )
            .values(valid_to=observed_at)
        )
    connection.execute(
        insert(provider_states_table),
        [
            {
                "provider_id": provider_id,
                "configured": configured,
                "valid_from": observed_at,
                "sync_run_id": run_id,
            }
            for provider_id, configured in moved
        ],
    )


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
    vendor_ids = _ensure_names(connection, vendors_table, {record.vendor for record in fresh})
    new_ids = insert_returning_ids(
        connection,
        models_table,
        [
            {
                "provider_id": provider_ids[record.provider],
                "model": record.model,
                "vendor_id": vendor_ids[record.vendor],
                "first_seen_at": observed_at,
                "available": True,
                "source_hash": record.source_hash,
            }
            for record in fresh
        ],
    )
    for record, model_id in zip(fresh, new_ids, strict=True):
        state = merge(None, record)
        changes.versions.append((model_id, 1, state))
        changes.prices.extend((model_id, component, p) for component, p in state.prices.items())
    _open_availability(connection, new_ids, observed_at, run_id, already_available=True)


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


def _open_availability(
    connection: Connection,
    model_ids: list[int],
    observed_at: datetime,
    run_id: int,
    *,
    already_available: bool = False,
) -> None:
    if not model_ids:
        return
    insert_rows(
        connection,
        model_availability_table,
        [{"model_id": i, "valid_from": observed_at, "sync_run_id": run_id} for i in model_ids],
    )
    if already_available:  # new models are inserted available
        return
    for chunk in chunked(model_ids):
        connection.execute(
            update(models_table).where(models_table.c.id.in_(chunk)).values(available=True)
        )


def _close_availability(
    connection: Connection, model_ids: list[int], observed_at: datetime
) -> None:
    # The provider's previous complete observation: the last one that listed the model.
    last_seen = (
        select(providers_table.c.last_observed_at)
        .join(models_table, models_table.c.provider_id == providers_table.c.id)
        .where(models_table.c.id == model_availability_table.c.model_id)
        .scalar_subquery()
    )
    for chunk in chunked(model_ids):
        connection.execute(
            update(model_availability_table)
            .where(
                model_availability_table.c.valid_to.is_(None),
                model_availability_table.c.model_id.in_(chunk),
            )
            .values(valid_to=observed_at, last_seen_at=last_seen)
        )
        connection.execute(
            update(models_table).where(models_table.c.id.in_(chunk)).values(available=False)
        )


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
            .values(source_hash=bindparam("source_hash")),
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
    _write_versions(connection, changes.versions, observed_at, run_id)


def _write_versions(
    connection: Connection,
    versions: list[tuple[int, int, ModelState]],
    observed_at: datetime,
    run_id: int,
) -> None:
    if not versions:
        return
    rows = []
    for model_id, number, state in versions:
        content = state.content
        row = {name: content[name] for name in SCALAR_FIELDS}
        discount = content["pricing_discount"]
        row["pricing_discount"] = None if discount is None else Decimal(discount)
        row.update(
            model_id=model_id,
            version=number,
            sync_run_id=run_id,
            valid_from=observed_at,
            content_hash=state.content_hash,
            extra=content["extra"],
        )
        rows.append(row)
    capability_ids = _capability_sets(connection, [state for _, _, state in versions])
    for row, capability_id in zip(rows, capability_ids, strict=True):
        row["capability_set_id"] = capability_id
    insert_rows(connection, model_versions_table, rows)


def _capability_sets(connection: Connection, states: list[ModelState]) -> list[int]:
    """The capability set of each state, creating the sets never seen before."""
    keys = [tuple(state.content[field] for field in SET_FIELDS) for state in states]
    digests = {key: canonical_hash(list(key)) for key in set(keys)}
    ids: dict[str, int] = {}
    for chunk in chunked(sorted(set(digests.values()))):
        query = select(capability_sets_table.c.digest, capability_sets_table.c.id).where(
            capability_sets_table.c.digest.in_(chunk)
        )
        ids.update((digest, id_) for digest, id_ in connection.execute(query))
    missing = [key for key, digest in digests.items() if digest not in ids]
    if missing:
        created = insert_returning_ids(
            connection, capability_sets_table, [{"digest": digests[key]} for key in missing]
        )
        new_ids = dict(zip(missing, created, strict=True))
        _write_members(connection, new_ids)
        ids.update((digests[key], id_) for key, id_ in new_ids.items())
    return [ids[digests[key]] for key in keys]


def _write_members(connection: Connection, sets: dict[tuple[Any, ...], int]) -> None:
    """The modalities, parameters and categories of new capability sets."""
    inputs, outputs, parameters, categories = zip(*sets, strict=True)
    modality_ids = _ensure_names(connection, modalities_table, _union(inputs + outputs))
    parameter_ids = _ensure_names(connection, parameters_table, _union(parameters))
    category_ids = _ensure_names(connection, categories_table, _union(categories))
    modalities, parameter_rows, category_rows = [], [], []
    for (input_set, output_set, parameter_set, category_set), set_id in sets.items():
        for direction, names in (("input", input_set), ("output", output_set)):
            modalities += [
                {
                    "capability_set_id": set_id,
                    "direction": direction,
                    "modality_id": modality_ids[n],
                }
                for n in names
            ]
        parameter_rows += [
            {"capability_set_id": set_id, "parameter_id": parameter_ids[n]} for n in parameter_set
        ]
        category_rows += [
            {"capability_set_id": set_id, "category_id": category_ids[n]} for n in category_set
        ]
    for table, rows in (
        (capability_modalities_table, modalities),
        (capability_parameters_table, parameter_rows),
        (capability_categories_table, category_rows),
    ):
        insert_rows(connection, table, rows)


def _union(sets: Iterable[Iterable[str]]) -> set[str]:
    return {name for names in sets for name in names}


def mark_seen(connection: Connection, complete: Iterable[str], observed_at: datetime) -> None:
    """Every available model of these providers was just listed: one row each to update."""
    names = sorted(complete)
    if names:
        connection.execute(
            update(providers_table)
            .where(providers_table.c.name.in_(names))
            .values(last_observed_at=observed_at)
        )
