"""Turn archived snapshots into history, and re-derive all history from the payload archive.

``backfill`` validates every snapshot first (bad ones are reported and skipped, exact
duplicates cost nothing), archives the new ones, and applies them in time order. When a
snapshot is older than the latest observation, the normalized history is re-derived from
the raw payload archive for every observation in time order, so the result is exactly
what syncing all observations in order would have built. ``rebuild`` does that alone:
after a normalization fix, say. Both run in one transaction under the sync lock: they apply
completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from etl.archive import archive_payload, load_payload
from etl.db.tables import Base, ModelVersion, Price, SyncRun
from etl.errors import SyncError, SyncHeld
from etl.load import LoadCounts, apply_catalog
from etl.locks import sync_transaction
from etl.payload import PayloadError
from etl.pipeline import DEFAULT_MAX_REMOVED_SHARE, parse_catalog
from etl.shapes import DEFAULT_PROVIDER, RawCatalog
from etl.snapshots import Snapshot, SnapshotError
from etl.times import iso, utcnow

Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done, total)``; phases: ``reading``, ``applying``."""

# Tables that hold what the archive can re-derive; runs, payloads and services stay.
DERIVED_TABLES = [
    table
    for table in reversed(Base.metadata.sorted_tables)
    if table.name not in ("sync_runs", "payloads", "services")
]


@dataclass
class Replayed:
    """What re-deriving the history did."""

    observations: int = 0
    versions_written: int = 0
    """Net new version rows."""
    price_rows_written: int = 0
    """Net new price rows (a price change opens one)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BackfillReport(Replayed):
    files_read: int = 0
    duplicates: int = 0
    """Snapshots already recorded with the same time and payload: skipped, free."""
    failed: list[dict[str, str]] = field(default_factory=list)
    """``{"source", "error"}`` for every snapshot that could not be used."""
    held: list[dict[str, str]] = field(default_factory=list)
    """``{"source", "error"}`` for snapshots stopped by the mass-removal guard."""
    applied: int = 0
    """New observations added to the history."""
    rederived: bool = False
    """True when an older snapshot made the whole history be re-derived."""


@dataclass
class _Observation:
    run_id: int
    observed_at: datetime
    payload_sha256: str
    default_provider: str
    catalog: RawCatalog | None = None
    """Already parsed (new snapshots); read from the archive otherwise."""
    source: str | None = None
    """Set for new snapshots: they may be held by the mass-removal guard."""


def backfill(
    engine: Engine,
    snapshots: Iterable[Snapshot],
    *,
    provider: str = DEFAULT_PROVIDER,
    strict: bool = False,
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE,
    progress: Progress | None = None,
) -> BackfillReport:
    """Add archived snapshots to the history, in any order.

    ``strict``: stop at the first unusable snapshot and apply nothing.
    ``max_removed_share``: a new snapshot that would retire more than this share of a
    provider's models is held (reported, not applied); None applies it anyway.
    """
    report = BackfillReport()
    ordered = sorted(snapshots, key=lambda s: (s.observed_at is None, s.observed_at, s.source))
    with sync_transaction(engine) as connection:
        before = _row_counts(connection)
        known: dict[datetime, str | None] = {
            observed_at: sha256
            for observed_at, sha256 in connection.execute(
                select(SyncRun.observed_at, SyncRun.payload_sha256).where(
                    SyncRun.status == "succeeded", SyncRun.observed_at.is_not(None)
                )
            )
            if observed_at is not None
        }
        latest = max(known, default=None)
        new: list[_Observation] = []
        for number, snapshot in enumerate(ordered, start=1):
            report.files_read += 1
            if progress:
                progress("reading", number, len(ordered))
            try:
                observation = _admit(connection, snapshot, provider, known)
            except (SyncError, PayloadError, SnapshotError, OSError, EOFError) as error:
                if strict:
                    raise SyncError(
                        f"{snapshot.source}: {error} (--strict: nothing applied)"
                    ) from None
                report.failed.append({"source": snapshot.source, "error": str(error)})
                _record_failed(connection, snapshot, provider, str(error))
                continue
            if observation is None:
                report.duplicates += 1
                continue
            known[observation.observed_at] = observation.payload_sha256
            new.append(observation)
        if not new:
            return report
        if latest is None or min(o.observed_at for o in new) > latest:
            observations = new
        else:
            report.rederived = True
            observations = sorted(_recorded(connection) + new, key=lambda o: o.observed_at)
            _clear(connection)
        _replay(connection, observations, max_removed_share, report, progress)
        report.applied = len(new) - len(report.held)
        _net_rows(connection, before, report)
    return report


def rebuild(engine: Engine, *, progress: Progress | None = None) -> Replayed:
    """Re-derive every normalized table from the payload archive, in one transaction."""
    report = Replayed()
    with sync_transaction(engine) as connection:
        before = _row_counts(connection)
        observations = _recorded(connection)
        _clear(connection)
        _replay(connection, observations, None, report, progress)
        _net_rows(connection, before, report)
    return report


def _admit(
    connection: Connection,
    snapshot: Snapshot,
    provider: str,
    known: dict[datetime, str | None],
) -> _Observation | None:
    """Validate and archive one snapshot and give it a run; None for an exact duplicate."""
    if snapshot.problem is not None or snapshot.observed_at is None:
        raise SnapshotError(snapshot.problem or "no observation time")
    raw = snapshot.read()
    payload, catalog = parse_catalog(raw, provider)
    recorded = known.get(snapshot.observed_at, "")
    if recorded == payload.sha256:
        return None
    if recorded:
        raise SyncError(f"another payload was already observed at {iso(snapshot.observed_at)}")
    archive_payload(connection, raw, payload.sha256, utcnow())
    run_id = connection.execute(
        insert(SyncRun)
        .values(
            status="running",
            source=snapshot.source,
            default_provider=provider,
            observed_at=snapshot.observed_at,
            started_at=utcnow(),
            shape=catalog.shape,
            bytes=len(raw),
            payload_sha256=payload.sha256,
            warnings=[],
        )
        .returning(SyncRun.id)
    ).scalar_one()
    return _Observation(
        run_id, snapshot.observed_at, payload.sha256, provider, catalog, snapshot.source
    )


def _record_failed(connection: Connection, snapshot: Snapshot, provider: str, error: str) -> None:
    now = utcnow()
    connection.execute(
        insert(SyncRun).values(
            status="failed",
            source=snapshot.source,
            default_provider=provider,
            observed_at=snapshot.observed_at,
            started_at=now,
            finished_at=now,
            warnings=[],
            error=error,
        )
    )


def _recorded(connection: Connection) -> list[_Observation]:
    """Every observation in the history: the succeeded runs that applied a payload."""
    rows = connection.execute(
        select(SyncRun.id, SyncRun.observed_at, SyncRun.payload_sha256, SyncRun.default_provider)
        .where(SyncRun.status == "succeeded", SyncRun.payload_sha256.is_not(None))
        .order_by(SyncRun.observed_at, SyncRun.id)
    ).all()
    observations: list[_Observation] = []
    for run_id, observed_at, sha256, provider in rows:
        assert observed_at is not None and sha256 is not None  # succeeded runs have both
        if observations and observations[-1].observed_at == observed_at:
            continue  # the same observation re-run: it applied nothing
        observations.append(_Observation(run_id, observed_at, sha256, provider))
    return observations


def _clear(connection: Connection) -> None:
    for table in DERIVED_TABLES:
        connection.execute(delete(table))


def _replay(
    connection: Connection,
    observations: list[_Observation],
    max_removed_share: float | None,
    report: Replayed,
    progress: Progress | None,
) -> None:
    parsed: dict[tuple[str, str], RawCatalog] = {}
    for number, observation in enumerate(observations, start=1):
        if progress:
            progress("applying", number, len(observations))
        catalog = observation.catalog or _archived(connection, observation, parsed)
        guarded = observation.source is not None and max_removed_share is not None
        try:
            with connection.begin_nested():
                counts, catalog_done = apply_catalog(
                    connection,
                    catalog,
                    observed_at=observation.observed_at,
                    run_id=observation.run_id,
                    max_removed_share=max_removed_share if guarded else None,
                )
        except SyncHeld as held:
            assert isinstance(report, BackfillReport)
            report.held.append({"source": observation.source or "", "error": str(held)})
            _close_run(
                connection,
                observation.run_id,
                "held",
                catalog.providers,
                catalog.warnings,
                LoadCounts(),
                str(held),
            )
            continue
        _close_run(
            connection,
            observation.run_id,
            "succeeded",
            catalog_done.providers,
            catalog_done.warnings,
            counts,
            None,
        )
        report.observations += 1


def _archived(
    connection: Connection, observation: _Observation, parsed: dict[tuple[str, str], RawCatalog]
) -> RawCatalog:
    # Identical payloads (a catalog that did not change between two observations) are
    # parsed once.
    key = (observation.payload_sha256, observation.default_provider)
    if key not in parsed:
        raw = load_payload(connection, observation.payload_sha256)
        parsed.clear()
        parsed[key] = parse_catalog(raw, observation.default_provider)[1]
    return parsed[key]


def _close_run(
    connection: Connection,
    run_id: int,
    status: str,
    providers: dict[str, bool],
    warnings: list[str],
    counts: LoadCounts,
    error: str | None,
) -> None:
    run = update(SyncRun).where(SyncRun.id == run_id)
    connection.execute(
        run.values(
            status=status,
            providers=providers,
            warnings=warnings,
            error=error,
            **asdict(counts),
        )
    )
    # A replayed run keeps the time it first finished; a new one finishes now.
    connection.execute(run.where(SyncRun.finished_at.is_(None)).values(finished_at=utcnow()))


def _row_counts(connection: Connection) -> tuple[int, int]:
    versions = connection.execute(select(func.count()).select_from(ModelVersion)).scalar_one()
    prices = connection.execute(select(func.count()).select_from(Price)).scalar_one()
    return versions, prices


def _net_rows(connection: Connection, before: tuple[int, int], report: Replayed) -> None:
    versions, prices = _row_counts(connection)
    report.versions_written = versions - before[0]
    report.price_rows_written = prices - before[1]
