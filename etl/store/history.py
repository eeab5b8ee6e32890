"""Re-derive the normalized history from the raw payload archive.

The history is a function of the observations (succeeded runs and their archived payloads)
taken in time order. Re-deriving it means: delete every table the archive can rebuild,
then apply each observation again, in order. Backfills of older snapshots, syncs that
arrive out of order and ``catalog-etl rebuild`` all come down to this, so the result is
always exactly what syncing every observation in time order would have built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from etl.db.tables import metadata, model_versions_table, prices_table, sync_runs_table
from etl.errors import SyncHeld
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.ingest.shapes import RawCatalog, parse_catalog
from etl.store.archive import load_payload
from etl.store.load import LoadCounts, apply_catalog
from etl.times import utcnow

Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done, total)``."""

# Tables that hold what the archive can re-derive; runs, payloads and services stay.
DERIVED_TABLES = [
    table
    for table in reversed(metadata.sorted_tables)
    if table.name not in ("sync_runs", "payloads", "services")
]


@dataclass
class Observation:
    """A payload observed at a time, applied on behalf of a run."""

    run_id: int
    observed_at: datetime
    payload_sha256: str
    default_provider: str
    catalog: RawCatalog | None = None
    """Already parsed (new observations); read from the archive otherwise."""
    source: str | None = None
    """Set for new observations: only they can be held by the mass-removal guard."""


@dataclass
class Outcome:
    status: str
    """``succeeded`` or ``held``."""
    counts: LoadCounts
    warnings: list[str]
    error: str | None = None


@dataclass
class Replayed:
    """What re-deriving the history did."""

    observations: int = 0
    versions_written: int = 0
    """Net new version rows."""
    price_rows_written: int = 0
    """Net new price rows (a price change opens one)."""
    outcomes: dict[int, Outcome] = field(default_factory=dict, repr=False)
    """Per run id."""


def recorded(connection: Connection) -> list[Observation]:
    """Every observation in the history: the succeeded runs that applied a payload."""
    rows = connection.execute(
        select(
            sync_runs_table.c.id,
            sync_runs_table.c.observed_at,
            sync_runs_table.c.payload_sha256,
            sync_runs_table.c.default_provider,
        )
        .where(
            sync_runs_table.c.status == "succeeded", sync_runs_table.c.payload_sha256.is_not(None)
        )
        .order_by(sync_runs_table.c.observed_at, sync_runs_table.c.id)
    ).all()
    observations: list[Observation] = []
    for run_id, observed_at, sha256, provider in rows:
        assert observed_at is not None and sha256 is not None  # succeeded runs have both
        if observations and observations[-1].observed_at == observed_at:
            continue  # the same observation re-run: it applied nothing
        observations.append(Observation(run_id, observed_at, sha256, provider))
    return observations


def rederive(
    connection: Connection,
    new: list[Observation],
    *,
    max_removed_share: float | None = None,
    progress: Progress | None = None,
) -> Replayed:
    """Rebuild every derived table from the recorded observations plus ``new`` ones.

    ``max_removed_share`` guards the new observations only: the others were accepted.
    """
    observations = sorted([*recorded(connection), *new], key=lambda o: o.observed_at)
    before = _row_counts(connection)
    for table in DERIVED_TABLES:
        connection.execute(delete(table))
    report = replay(
        connection, observations, max_removed_share=max_removed_share, progress=progress
    )
    after = _row_counts(connection)
    report.versions_written = after[0] - before[0]
    report.price_rows_written = after[1] - before[1]
    return report


def replay(
    connection: Connection,
    observations: Iterable[Observation],
    *,
    max_removed_share: float | None = None,
    progress: Progress | None = None,
) -> Replayed:
    """Apply observations in the given order on top of what is stored; ``progress`` is told
    how far it got when they are a list."""
    report = Replayed()
    before = _row_counts(connection)
    parsed: dict[tuple[str, str], RawCatalog] = {}
    total = len(observations) if isinstance(observations, Sized) else None
    for number, observation in enumerate(observations, start=1):
        if progress and total is not None:
            progress("applying", number, total)
        catalog = observation.catalog or _archived(connection, observation, parsed)
        guard = max_removed_share if observation.source is not None else None
        try:
            with connection.begin_nested():
                counts, applied = apply_catalog(
                    connection,
                    catalog,
                    observed_at=observation.observed_at,
                    run_id=observation.run_id,
                    max_removed_share=guard,
                )
            outcome = Outcome("succeeded", counts, applied.warnings)
            report.observations += 1
        except SyncHeld as held:
            outcome = Outcome("held", LoadCounts(), catalog.warnings, str(held))
        report.outcomes[observation.run_id] = outcome
        _close_run(connection, observation.run_id, catalog.providers, outcome)
        # Freed before the next one is read: memory stays that of one catalog.
        observation.catalog = None
        del catalog
    after = _row_counts(connection)
    report.versions_written = after[0] - before[0]
    report.price_rows_written = after[1] - before[1]
    return report


def _archived(
    connection: Connection, observation: Observation, parsed: dict[tuple[str, str], RawCatalog]
) -> RawCatalog:
    # A catalog that did not change between two observations is parsed once.
    key = (observation.payload_sha256, observation.default_provider)
    if key not in parsed:
        raw = load_payload(connection, observation.payload_sha256)
        parsed.clear()
        parsed[key] = parse_catalog(raw, observation.default_provider)[1]
    return parsed[key]


def _close_run(
    connection: Connection, run_id: int, providers: dict[str, bool], outcome: Outcome
) -> None:
    run = update(sync_runs_table).where(sync_runs_table.c.id == run_id)
    connection.execute(
        run.values(
            status=outcome.status,
            normalization_version=NORMALIZATION_VERSION if outcome.status == "succeeded" else None,
            providers=providers,
            warnings=outcome.warnings,
            error=outcome.error,
            **asdict(outcome.counts),
        )
    )
    # A replayed run keeps the time it first finished; a new one finishes now.
    connection.execute(
        run.where(sync_runs_table.c.finished_at.is_(None)).values(finished_at=utcnow())
    )


def _row_counts(connection: Connection) -> tuple[int, int]:
    versions = connection.execute(
        select(func.count()).select_from(model_versions_table)
    ).scalar_one()
    prices = connection.execute(select(func.count()).select_from(prices_table)).scalar_one()
    return versions, prices
