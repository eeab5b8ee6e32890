"""Writing model versions, and the capability sets (modalities, parameters, categories)
they share: a set is stored once and referenced by every version that has it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from etl.db.bulk import chunked, ensure_names, insert_returning_ids, insert_rows
from etl.db.tables import (
    capability_categories_table,
    capability_modalities_table,
    capability_parameters_table,
    capability_sets_table,
    categories_table,
    modalities_table,
    model_versions_table,
    parameters_table,
)
from etl.ingest.normalize import SCALAR_FIELDS, SET_FIELDS, ModelState, canonical_hash


def write_versions(
    connection: Connection,
    versions: list[tuple[int, int, ModelState]],
    observed_at: datetime,
    run_id: int,
) -> None:
    """Insert the versions ``(model id, version number, state)`` valid from ``observed_at``."""
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
    capability_ids = capability_sets(connection, [state for _, _, state in versions])
    for row, capability_id in zip(rows, capability_ids, strict=True):
        row["capability_set_id"] = capability_id
    insert_rows(connection, model_versions_table, rows)


def capability_sets(connection: Connection, states: list[ModelState]) -> list[int]:
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
    modality_ids = ensure_names(connection, modalities_table, _union(inputs + outputs))
    parameter_ids = ensure_names(connection, parameters_table, _union(parameters))
    category_ids = ensure_names(connection, categories_table, _union(categories))
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
