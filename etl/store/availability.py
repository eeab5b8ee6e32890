"""When each model was listed: availability intervals opened and closed, the providers'
latest complete observation, and their ``configured`` flag over time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from etl.db.bulk import chunked, insert_rows
from etl.db.tables import (
    model_availability_table,
    models_table,
    provider_states_table,
    providers_table,
)


def record_provider_states(
    connection: Connection,
    providers: dict[str, bool],
    provider_ids: dict[str, int],
    observed_at: datetime,
    run_id: int,
) -> None:
    """Close and open ``provider_states`` rows for the providers whose flag changed."""
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


def open_availability(
    connection: Connection,
    model_ids: list[int],
    observed_at: datetime,
    run_id: int,
    *,
    already_available: bool = False,
) -> None:
    """Open an availability interval for each model (listed again, or new)."""
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


def close_availability(connection: Connection, model_ids: list[int], observed_at: datetime) -> None:
    """Close the availability of models missing from a complete catalog."""
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


def _named(catalog_id: int, names: list[str]) -> Any:
    """The providers of catalog ``catalog_id`` with these names."""
    return (providers_table.c.catalog_id == catalog_id) & providers_table.c.name.in_(names)


def mark_seen(
    connection: Connection, catalog_id: int, complete: Iterable[str], observed_at: datetime
) -> None:
    """Every available model of these providers (of catalog ``catalog_id``) was just listed:
    one row each to update."""
    names = sorted(complete)
    if names:
        connection.execute(
            update(providers_table)
            .where(_named(catalog_id, names))
            .values(last_observed_at=observed_at)
        )


def seen_before(
    connection: Connection, catalog_id: int, complete: Iterable[str], observed_at: datetime
) -> None:
    """A late observation that lists what the one before it listed: the models of these
    providers (of catalog ``catalog_id``) were seen at ``observed_at`` too. Intervals that
    closed after it were last seen then (if not later), and so were the providers."""
    names = sorted(complete)
    if not names:
        return
    availability = model_availability_table
    of_providers = (
        select(models_table.c.id)
        .join(providers_table, providers_table.c.id == models_table.c.provider_id)
        .where(_named(catalog_id, names))
    )
    connection.execute(
        update(availability)
        .where(
            availability.c.valid_from <= observed_at,
            availability.c.valid_to > observed_at,
            availability.c.last_seen_at < observed_at,
            availability.c.model_id.in_(of_providers),
        )
        .values(last_seen_at=observed_at)
    )
    connection.execute(
        update(providers_table)
        .where(
            _named(catalog_id, names),
            or_(
                providers_table.c.last_observed_at.is_(None),
                providers_table.c.last_observed_at < observed_at,
            ),
        )
        .values(last_observed_at=observed_at)
    )
