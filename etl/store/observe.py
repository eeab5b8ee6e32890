"""One observation into the history, at its place in the timeline.

* Bytes equal to the latest observation's, observed after it: nothing to parse, only the
  time its providers were last seen moves.
* Observed after the history's end: applied on top of it.
* Observed at the time of an earlier observation: the same payload is a no-op, another one
  is refused.
* Observed before the history's end (a backfill, a cron sync that lost a race): equal to
  the observation just before it, it only records the sighting; otherwise it is merged by
  rewinding to its time (:func:`etl.store.history.merge`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, Row, select

from etl.db.tables import sync_runs_table
from etl.errors import SyncError
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.ingest.shapes import RawCatalog, parse_catalog
from etl.store.archive import archive_payload
from etl.store.availability import mark_seen, seen_before
from etl.store.guard import RemovalGuard
from etl.store.history import Observation, Outcome, merge, outcome_of
from etl.store.load import LoadCounts, apply_catalog
from etl.store.runs import SyncResult, latest_run
from etl.times import iso, utcnow


def observe(
    connection: Connection,
    raw: bytes,
    result: SyncResult,
    *,
    provider: str,
    guard: RemovalGuard | None,
    catalog_id: int,
) -> None:
    """Apply the payload ``raw`` observed at ``result.observed_at`` to the history of catalog
    ``catalog_id``, on behalf of run ``result.run_id``, and fill ``result`` in: status,
    shape, counts, warnings and the providers held. Nothing here commits."""
    latest = latest_run(connection, catalog_id)
    if latest is not None and _same_payload(latest, result, provider):
        outcome = _observe_again(connection, catalog_id, latest, result)
    else:
        # Only the records are kept, not the parsed document: see consume in apply_catalog.
        catalog = parse_catalog(raw, provider, sha256=result.payload_sha256)[1]
        result.shape, result.providers = catalog.shape, catalog.providers
        outcome = _apply(connection, raw, catalog, result, latest, guard, provider, catalog_id)
    result.status = outcome.status
    result.providers = outcome.providers or result.providers
    result.warnings = outcome.warnings
    result.held_providers = outcome.held or None
    result.error = outcome.error
    for name, value in asdict(outcome.counts).items():
        setattr(result, name, value)


def _same_payload(previous: Row[Any], result: SyncResult, provider: str) -> bool:
    """``previous`` applied these very bytes, for the same default provider, with the
    normalization in use and nothing held, and this observation comes after it."""
    assert result.observed_at is not None
    return bool(
        previous.observed_at < result.observed_at
        and previous.payload_sha256 == result.payload_sha256
        and previous.default_provider == provider
        and previous.normalization_version == NORMALIZATION_VERSION
        and not previous.held_providers
    )


def _complete(run: Row[Any]) -> list[str]:
    return [name for name, on in (run.providers or {}).items() if on]


def _observe_again(
    connection: Connection, catalog_id: int, latest: Row[Any], result: SyncResult
) -> Outcome:
    # The catalog is byte for byte the one the history ends with, so it changes nothing but
    # the time its complete providers were last seen: no need to parse it again.
    assert result.observed_at is not None
    result.shape, result.providers = latest.shape, latest.providers
    mark_seen(connection, catalog_id, _complete(latest), result.observed_at)
    return Outcome("succeeded", LoadCounts(models_seen=latest.models_seen), list(latest.warnings))


def _apply(
    connection: Connection,
    raw: bytes,
    catalog: RawCatalog,
    result: SyncResult,
    latest: Row[Any] | None,
    guard: RemovalGuard | None,
    provider: str,
    catalog_id: int,
) -> Outcome:
    observed_at, sha256 = result.observed_at, result.payload_sha256
    assert observed_at is not None and sha256 is not None
    late = latest is not None and observed_at < latest.observed_at
    if (
        latest is not None
        and observed_at <= latest.observed_at
        and _applied_at(connection, catalog_id, result)
    ):
        return Outcome("succeeded", LoadCounts(), catalog.warnings)  # applied before: a no-op
    previous = latest_run(connection, catalog_id, before=observed_at) if late else latest
    after = previous.payload_sha256 if previous is not None else None
    archive_payload(connection, raw, sha256, utcnow(), after=after)
    if late:
        if previous is not None and _same_payload(previous, result, provider):
            # Nothing changes between the observation before and this one: only the sighting.
            seen_before(connection, catalog_id, _complete(previous), observed_at)
            counts = LoadCounts(models_seen=previous.models_seen)
            return Outcome(
                "succeeded", counts, list(previous.warnings), providers=previous.providers
            )
        new = Observation(result.run_id, catalog_id, observed_at, sha256, provider, catalog, "sync")
        return merge(connection, catalog_id, [new], guard=guard).outcomes[result.run_id]
    applied = apply_catalog(
        connection,
        catalog,
        catalog_id=catalog_id,
        observed_at=observed_at,
        run_id=result.run_id,
        guard=guard,
        consume=True,
    )
    return outcome_of(applied)


def _applied_at(connection: Connection, catalog_id: int, result: SyncResult) -> bool:
    """True when this very payload was applied to the catalog at this time before; another
    payload observed at the same time is refused."""
    same_time = connection.execute(
        select(sync_runs_table.c.payload_sha256).where(
            sync_runs_table.c.catalog_id == catalog_id,
            sync_runs_table.c.status == "succeeded",
            sync_runs_table.c.observed_at == result.observed_at,
        )
    ).first()
    if same_time is None:
        return False
    if same_time.payload_sha256 == result.payload_sha256:
        return True
    assert result.observed_at is not None
    raise SyncError(f"another payload was already observed at {iso(result.observed_at)}")
