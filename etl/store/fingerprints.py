"""Each model's fingerprint (``models.source_hash``) as syncing in time order leaves it.

A rewind clears the fingerprints set at or after its moment, and applying the observations
from there on sets them again for every model they list. A model none of them lists keeps
an empty one; its fingerprint is that of the last record applied before the moment, found
here by reading back, newest first, the observations before it (usually only the one just
before). Only those models' records are validated again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from etl.db.tables import models_table, providers_table, sync_runs_table
from etl.ingest.shapes import RawRecord, parse_catalog
from etl.store.archive import load_payload

_PAGE = 20


def restore_fingerprints(connection: Connection, catalog_id: int, moment: datetime) -> None:
    """Fill in catalog ``catalog_id``'s empty fingerprints from its observations before
    ``moment``."""
    missing = {
        (provider, model): model_id
        for model_id, provider, model in connection.execute(
            select(models_table.c.id, providers_table.c.name, models_table.c.model)
            .join(providers_table, providers_table.c.id == models_table.c.provider_id)
            .where(providers_table.c.catalog_id == catalog_id, models_table.c.source_hash == "")
        ).all()
    }
    found: list[dict[str, object]] = []
    before = moment
    while missing:
        earlier = _EARLIER.where(
            sync_runs_table.c.catalog_id == catalog_id, sync_runs_table.c.observed_at < before
        )
        runs = connection.execute(earlier).all()
        for run in runs:
            found += _fingerprints(connection, run, missing)
        if len(runs) < _PAGE:
            break
        before = runs[-1].observed_at
    if found:
        connection.execute(
            update(models_table)
            .where(models_table.c.id == bindparam("model_id"))
            .values(source_hash=bindparam("hash"), source_hash_at=bindparam("at")),
            found,
        )


_EARLIER = (
    select(
        sync_runs_table.c.observed_at,
        sync_runs_table.c.payload_sha256,
        sync_runs_table.c.default_provider,
        sync_runs_table.c.held_providers,
    )
    .where(sync_runs_table.c.status == "succeeded", sync_runs_table.c.payload_sha256.is_not(None))
    .order_by(sync_runs_table.c.observed_at.desc())
    .limit(_PAGE)
)


def _fingerprints(
    connection: Connection, run: Any, missing: dict[tuple[str, str], int]
) -> list[dict[str, object]]:
    """The fingerprints of the missing models that ``run`` applied (popped from
    ``missing``): only their records are validated again."""
    if not missing:
        return []
    from etl.ingest.validate import build_catalog  # pydantic only when there is work

    raw = parse_catalog(load_payload(connection, run.payload_sha256), run.default_provider)[1]
    held = run.held_providers or {}
    wanted = [
        record
        for record in raw.records
        if record.provider not in held and (record.provider, _model_id(record)) in missing
    ]
    found = []
    for record in build_catalog(replace(raw, records=wanted)).records:
        model_id = missing.pop((record.provider, record.model))
        found.append({"model_id": model_id, "hash": record.source_hash, "at": run.observed_at})
    return found


def _model_id(record: RawRecord) -> Any:
    return record.document.get("id") if isinstance(record.document, dict) else None
