"""Turn archived snapshots into history, in any order, and rebuild history from the archive.

``backfill`` reads the snapshots in time order (bad ones are reported and skipped, exact
duplicates cost nothing) and archives the new ones. Snapshots later than the history's end
are applied as they are read, each parsed once. When one is older than the latest
observation, the history is re-derived from the raw payload archive (:mod:`etl.store.history`),
so the result is exactly what syncing all observations in order would have built.
``rebuild`` re-derives alone: after a normalization fix, say. Both run in one transaction
under the sync lock: they apply completely or not at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from etl.collector import collector_paused
from etl.db.tables import sync_runs_table
from etl.errors import SyncError
from etl.ingest.payload import PayloadError
from etl.ingest.shapes import DEFAULT_PROVIDER, parse_catalog
from etl.ingest.snapshots import Snapshot, SnapshotError
from etl.store.archive import archive_payload, previous_payload
from etl.store.catalogs import DEFAULT_CATALOG, ensure_catalog
from etl.store.guard import DEFAULT_MASS_REMOVAL_FLOOR, DEFAULT_MAX_REMOVED_SHARE, removal_guard
from etl.store.history import Observation, Progress, Replayed, merge, rederive, replay
from etl.store.locks import sync_transaction
from etl.times import DEFAULT_MAX_CLOCK_SKEW, future_problem, iso, utcnow


@dataclass
class RebuildReport:
    observations: int = 0
    """Observations applied again."""
    versions_written: int = 0
    """Net new version rows."""
    price_rows_written: int = 0
    """Net new price rows (a price change opens one)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BackfillReport(RebuildReport):
    files_read: int = 0
    duplicates: int = 0
    """Snapshots already recorded with the same time and payload: skipped, free."""
    failed: list[dict[str, str]] = field(default_factory=list)
    """``{"source", "error"}`` for every snapshot that could not be used."""
    held: list[dict[str, str]] = field(default_factory=list)
    """``{"source", "error"}`` for snapshots whose providers (some or all) the mass-removal
    guard held."""
    applied: int = 0
    """New observations added to the history."""
    rederived: bool = False
    """True when a snapshot older than the history's end was merged: the observations from
    the earliest such snapshot on were applied again."""


@dataclass(frozen=True)
class _Target:
    """Where snapshots go: the catalog, and the provider of payloads that name none."""

    catalog_id: int
    provider: str


def backfill(
    engine: Engine,
    snapshots: Iterable[Snapshot],
    *,
    catalog: str = DEFAULT_CATALOG,
    provider: str = DEFAULT_PROVIDER,
    strict: bool = False,
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE,
    mass_removal_floor: int = DEFAULT_MASS_REMOVAL_FLOOR,
    max_clock_skew: float = DEFAULT_MAX_CLOCK_SKEW,
    progress: Progress | None = None,
) -> BackfillReport:
    """Add archived snapshots to the history of ``catalog``, in any order.

    ``strict``: stop at the first unusable snapshot and apply nothing.
    ``max_removed_share``, ``mass_removal_floor``: a new snapshot that would retire more
    than this share (and at least this many) of a provider's models has that provider held
    (reported); None applies everything. ``max_clock_skew``: a snapshot observed further in
    the future than this many seconds is refused.
    """
    guard = removal_guard(max_removed_share, mass_removal_floor)
    target = _Target(ensure_catalog(engine, catalog), provider)
    report = BackfillReport()
    ordered = sorted(
        (_in_time(snapshot, max_clock_skew) for snapshot in snapshots),
        key=lambda s: (s.observed_at is None, s.observed_at, s.source),
    )
    with collector_paused(), sync_transaction(engine, catalog=catalog) as connection:
        known: dict[datetime, str | None] = {
            observed_at: sha256
            for observed_at, sha256 in connection.execute(
                select(sync_runs_table.c.observed_at, sync_runs_table.c.payload_sha256).where(
                    sync_runs_table.c.catalog_id == target.catalog_id,
                    sync_runs_table.c.status == "succeeded",
                    sync_runs_table.c.observed_at.is_not(None),
                )
            )
            if observed_at is not None
        }
        latest = max(known, default=None)
        sources: dict[int, str] = {}
        stream = _admitted(connection, ordered, target, known, sources, report, strict, progress)
        # Snapshots come in time order: the ones older than the history's end come first.
        older: list[Observation] = []
        for observation in stream:
            if latest is None or observation.observed_at > latest:
                stream = itertools.chain([observation], stream)  # put it back
                break
            older.append(replace(observation, catalog=None))  # read back from the archive
        if older:
            report.rederived = True
            new = older + [replace(observation, catalog=None) for observation in stream]
            replayed = merge(connection, target.catalog_id, new, guard=guard, progress=progress)
        else:
            # Every new snapshot extends the history: each is applied as soon as it is read,
            # parsed once, and memory stays that of one snapshot.
            replayed = replay(connection, stream, guard=guard)
        _tally(report, replayed, sources)
    return report


def _tally(report: BackfillReport, replayed: Replayed, sources: dict[int, str]) -> None:
    """What happened to the new snapshots (by run id in ``sources``), into ``report``."""
    report.observations = replayed.observations
    report.versions_written = replayed.versions_written
    report.price_rows_written = replayed.price_rows_written
    outcomes = {run_id: replayed.outcomes[run_id] for run_id in sources}
    report.held = [
        {"source": sources[run_id], "error": "; ".join(outcome.held.values())}
        for run_id, outcome in outcomes.items()
        if outcome.held
    ]
    report.applied = sum(outcome.status == "succeeded" for outcome in outcomes.values())


def _in_time(snapshot: Snapshot, max_clock_skew: float) -> Snapshot:
    """The snapshot, marked unusable when it was observed in the future."""
    if snapshot.observed_at is None or snapshot.problem is not None:
        return snapshot
    problem = future_problem(snapshot.observed_at, max_clock_skew)
    return snapshot if problem is None else replace(snapshot, problem=problem)


def _admitted(
    connection: Connection,
    ordered: list[Snapshot],
    target: _Target,
    known: dict[datetime, str | None],
    sources: dict[int, str],
    report: BackfillReport,
    strict: bool,
    progress: Progress | None,
) -> Iterator[Observation]:
    """The snapshots that are new observations, read one at a time, with their source by run
    id in ``sources``; the others are counted (duplicates) or recorded as failed runs."""
    for number, snapshot in enumerate(ordered, start=1):
        report.files_read += 1
        if progress:
            progress("reading", number, len(ordered))
        try:
            observation = _admit(connection, snapshot, target, known)
        except (SyncError, PayloadError, SnapshotError, OSError, EOFError) as error:
            if strict:
                raise SyncError(f"{snapshot.source}: {error} (--strict: nothing applied)") from None
            report.failed.append({"source": snapshot.source, "error": str(error)})
            _record_failed(connection, snapshot, target, str(error))
            continue
        if observation is None:
            report.duplicates += 1
            continue
        known[observation.observed_at] = observation.payload_sha256
        sources[observation.run_id] = snapshot.source
        yield observation


def rebuild(engine: Engine, *, progress: Progress | None = None) -> RebuildReport:
    """Re-derive every normalized table from the payload archive, in one transaction."""
    with collector_paused(), sync_transaction(engine) as connection:
        replayed = rederive(connection, [], progress=progress)
    return RebuildReport(
        replayed.observations, replayed.versions_written, replayed.price_rows_written
    )


def _admit(
    connection: Connection,
    snapshot: Snapshot,
    target: _Target,
    known: dict[datetime, str | None],
) -> Observation | None:
    """Parse and archive one snapshot and give it a run; None for an exact duplicate."""
    provider = target.provider
    if snapshot.problem is not None or snapshot.observed_at is None:
        raise SnapshotError(snapshot.problem or "no observation time")
    raw = snapshot.read()
    payload, catalog = parse_catalog(raw, provider)
    recorded = known.get(snapshot.observed_at, "")
    if recorded == payload.sha256:
        return None
    if recorded:
        raise SyncError(f"another payload was already observed at {iso(snapshot.observed_at)}")
    after = previous_payload(connection, target.catalog_id, snapshot.observed_at)
    archive_payload(connection, raw, payload.sha256, utcnow(), after=after)
    run_id = connection.execute(
        insert(sync_runs_table)
        .values(
            status="running",
            catalog_id=target.catalog_id,
            source=snapshot.source,
            default_provider=provider,
            observed_at=snapshot.observed_at,
            started_at=utcnow(),
            shape=catalog.shape,
            bytes=len(raw),
            payload_sha256=payload.sha256,
            warnings=[],
        )
        .returning(sync_runs_table.c.id)
    ).scalar_one()
    return Observation(
        run_id,
        target.catalog_id,
        snapshot.observed_at,
        payload.sha256,
        provider,
        catalog,
        snapshot.source,
    )


def _record_failed(connection: Connection, snapshot: Snapshot, target: _Target, error: str) -> None:
    now = utcnow()
    connection.execute(
        insert(sync_runs_table).values(
            status="failed",
            catalog_id=target.catalog_id,
            source=snapshot.source,
            default_provider=target.provider,
            observed_at=snapshot.observed_at,
            started_at=now,
            finished_at=now,
            warnings=[],
            error=error,
        )
    )
