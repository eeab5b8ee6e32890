"""Take one catalog's part of the derived tables back to what it held just before a moment.

An observation older than the history's end is merged by rewinding to its time and applying
it and every later observation again, in order; taking an observation out (``runs forget``)
or releasing a held one (``runs release``) does the same from that observation's time.
Rewinding only touches what began or ended at or after the moment, so the cost follows what
comes after it, not the length of the history:

* rows that began at or after it (versions, prices, availability, provider states, and the
  models and providers first seen then) are deleted;
* rows that ended at or after it are open again;
* a model's fingerprint set at or after it is cleared (the next record is validated);
* each provider's last complete observation is the latest one before it.

Model ids, and the rows of everything before the moment, stay as they were.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, exists, or_, select, update

from etl.db.bulk import chunked
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
    sync_runs_table,
    vendors_table,
)

_PAGE = 100
"""Runs read at a time when looking back for each provider's last complete observation."""


def rewind(connection: Connection, catalog_id: int, moment: datetime) -> tuple[int, int]:
    """Catalog ``catalog_id``'s part of the derived tables as it was after its last
    observation before ``moment``; the version and price rows it deleted."""
    providers = select(providers_table.c.id).where(providers_table.c.catalog_id == catalog_id)
    models = select(models_table.c.id).where(models_table.c.provider_id.in_(providers))
    prices, versions = (
        _rewind_intervals(connection, table, moment, table.c.model_id.in_(models))
        for table in (prices_table, model_versions_table)
    )
    _rewind_intervals(
        connection,
        provider_states_table,
        moment,
        provider_states_table.c.provider_id.in_(providers),
    )
    availability = model_availability_table
    ours = availability.c.model_id.in_(models)
    # Before the intervals change: a model touched by the rewind is available after it when
    # an interval began before the moment and had not ended by then.
    touched = select(availability.c.model_id).where(
        ours, (availability.c.valid_from >= moment) | (availability.c.valid_to >= moment)
    )
    open_then = exists().where(
        availability.c.model_id == models_table.c.id,
        availability.c.valid_from < moment,
        or_(availability.c.valid_to.is_(None), availability.c.valid_to >= moment),
    )
    connection.execute(
        update(models_table).where(models_table.c.id.in_(touched)).values(available=open_then)
    )
    _rewind_intervals(connection, availability, moment, ours, last_seen_at=None)
    of_catalog = models_table.c.provider_id.in_(providers)
    connection.execute(
        delete(models_table).where(of_catalog, models_table.c.first_seen_at >= moment)
    )
    connection.execute(
        update(models_table)
        .where(of_catalog, models_table.c.source_hash_at >= moment)
        .values(source_hash="", source_hash_at=None)
    )
    connection.execute(
        delete(providers_table).where(
            providers_table.c.catalog_id == catalog_id, providers_table.c.first_seen_at >= moment
        )
    )
    _restore_last_observed(connection, catalog_id, moment)
    return versions, prices


def _rewind_intervals(
    connection: Connection, table: Table, moment: datetime, scope: Any, **reset: Any
) -> int:
    # Deleting first: reopening a row whose successor still exists would give a model two
    # current rows, which the partial unique indexes forbid.
    deleted = connection.execute(delete(table).where(scope, table.c.valid_from >= moment)).rowcount
    connection.execute(
        update(table).where(scope, table.c.valid_to >= moment).values(valid_to=None, **reset)
    )
    return int(deleted)


def _restore_last_observed(connection: Connection, catalog_id: int, moment: datetime) -> None:
    """Each provider's last complete observation before ``moment``: the latest succeeded run
    of its catalog that said it is configured and did not hold it."""
    of_catalog = providers_table.c.catalog_id == catalog_id
    missing = set(connection.execute(select(providers_table.c.name).where(of_catalog)).scalars())
    found: dict[str, datetime | None] = dict.fromkeys(missing)
    runs = sync_runs_table
    query = (
        select(runs.c.observed_at, runs.c.providers, runs.c.held_providers)
        .where(
            runs.c.catalog_id == catalog_id,
            runs.c.status == "succeeded",
            runs.c.observed_at < moment,
        )
        .order_by(runs.c.observed_at.desc())
        .limit(_PAGE)
    )
    before = moment
    while missing:
        rows = connection.execute(query.where(runs.c.observed_at < before)).all()
        for observed_at, providers, held in rows:
            complete = {name for name, on in (providers or {}).items() if on} - set(held or ())
            for name in complete & missing:
                found[name] = observed_at
            missing -= complete
        if len(rows) < _PAGE:
            break
        before = rows[-1].observed_at
    if found:
        connection.execute(
            update(providers_table)
            .where(of_catalog, providers_table.c.name == bindparam("provider"))
            .values(last_observed_at=bindparam("seen")),
            [{"provider": name, "seen": seen} for name, seen in found.items()],
        )


def drop_orphans(connection: Connection) -> None:
    """Delete vendors, capability sets and names nothing refers to any more: after an
    observation is taken out, what only it brought goes with it."""
    versions = model_versions_table
    connection.execute(
        delete(vendors_table).where(~exists().where(models_table.c.vendor_id == vendors_table.c.id))
    )
    sets = capability_sets_table
    unused = ~exists().where(versions.c.capability_set_id == sets.c.id)
    unused_ids = connection.execute(select(sets.c.id).where(unused)).scalars().all()
    for chunk in chunked(unused_ids):
        for link in (
            capability_modalities_table,
            capability_parameters_table,
            capability_categories_table,
        ):
            connection.execute(delete(link).where(link.c.capability_set_id.in_(chunk)))
        connection.execute(delete(sets).where(sets.c.id.in_(chunk)))
    for names, link, column in (
        (modalities_table, capability_modalities_table, "modality_id"),
        (parameters_table, capability_parameters_table, "parameter_id"),
        (categories_table, capability_categories_table, "category_id"),
    ):
        connection.execute(delete(names).where(~exists().where(link.c[column] == names.c.id)))
