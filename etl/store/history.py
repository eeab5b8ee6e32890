"""The history as a function of its observations: merging new ones into the timeline, and
re-deriving it from the raw payload archive.

The history is what applying every observation (succeeded runs and their archived
payloads) in time order builds. An observation older than the history's end is merged by
rewinding the derived tables to its time (:mod:`etl.store.rewind`) and applying it and the
observations after it again: the cost follows what comes after it. ``catalog-etl rebuild``
starts from nothing and applies every observation: the reference the merge is tested
against, table by table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from etl.db.tables import metadata, model_versions_table, prices_table, sync_runs_table
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.ingest.shapes import RawCatalog, parse_catalog
from etl.store.archive import load_payload
from etl.store.fingerprints import restore_fingerprints
from etl.store.guard import RemovalGuard
from etl.store.load import Applied, LoadCounts, apply_catalog
from etl.store.rewind import rewind
from etl.times import utcnow

Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done, total)``."""

# Tables that hold what the archive can re-derive; catalogs, runs, payloads, services and
# the notification outbox stay.
DERIVED_TABLES = [
    table
    for table in reversed(metadata.sorted_tables)
    if table.name not in ("catalogs", "sync_runs", "payloads", "services", "notifications")
]


@dataclass
class Observation:
    """A payload observed at a time, applied on behalf of a run."""

    run_id: int
    catalog_id: int
    observed_at: datetime
    payload_sha256: str
    default_provider: str
    catalog: RawCatalog | None = None
    """Already parsed (new observations); read from the archive otherwise."""
    source: str | None = None
    """Set for new observations: only they are looked at by the mass-removal guard."""
    held: dict[str, str] | None = None
    """Providers the guard held when the run was first applied: held again on replay."""


@dataclass
class Outcome:
    status: str
    """``succeeded``, or ``held`` when every provider of the catalog was held."""
    counts: LoadCounts
    warnings: list[str]
    held: dict[str, str] = field(default_factory=dict)
    providers: dict[str, bool] | None = None
    """What the run records it spoke for, when the observation was applied."""

    @property
    def error(self) -> str | None:
        return "; ".join(self.held.values()) if self.status == "held" else None


@dataclass
class Replayed:
    """What merging or re-deriving did."""

    observations: int = 0
    versions_written: int = 0
    """Net new version rows."""
    price_rows_written: int = 0
    """Net new price rows (a price change opens one)."""
    outcomes: dict[int, Outcome] = field(default_factory=dict, repr=False)
    """Per run id."""


def outcome_of(applied: Applied) -> Outcome:
    """A run's outcome: ``held`` when the guard held every provider the catalog spoke for
    (nothing applied), else ``succeeded``, with what was held."""
    warnings, held, providers = applied.catalog.warnings, applied.held, applied.providers
    if held and set(providers) <= set(held):
        return Outcome("held", LoadCounts(), warnings, held, providers)
    return Outcome("succeeded", applied.counts, warnings, held, providers)


def recorded(
    connection: Connection, catalog_id: int | None = None, since: datetime | None = None
) -> list[Observation]:
    """The observations in the history of catalog ``catalog_id`` (of every catalog when
    None), from ``since`` on: the succeeded runs that applied a payload, the first one at
    each time of a catalog."""
    runs = sync_runs_table
    query = (
        select(
            runs.c.id,
            runs.c.catalog_id,
            runs.c.observed_at,
            runs.c.payload_sha256,
            runs.c.default_provider,
            runs.c.held_providers,
        )
        .where(runs.c.status == "succeeded", runs.c.payload_sha256.is_not(None))
        .order_by(runs.c.observed_at, runs.c.catalog_id, runs.c.id)
    )
    if catalog_id is not None:
        query = query.where(runs.c.catalog_id == catalog_id)
    if since is not None:
        query = query.where(runs.c.observed_at >= since)
    observations: list[Observation] = []
    for run_id, catalog, observed_at, sha256, provider, held in connection.execute(query).all():
        assert observed_at is not None and sha256 is not None  # succeeded runs have both
        last = observations[-1] if observations else None
        if last is not None and (last.catalog_id, last.observed_at) == (catalog, observed_at):
            continue  # the same observation re-run: it applied nothing
        observations.append(Observation(run_id, catalog, observed_at, sha256, provider, held=held))
    return observations


def merge(
    connection: Connection,
    catalog_id: int,
    new: list[Observation],
    *,
    guard: RemovalGuard | None = None,
    progress: Progress | None = None,
    start: datetime | None = None,
) -> Replayed:
    """Merge observations into the timeline of catalog ``catalog_id``: rewind it to the
    earliest of them (or ``start``) and apply its observations from there on, recorded and
    new, in time order. Other catalogs are not touched.

    ``guard`` looks at the new observations only: the others were accepted."""
    assert all(observation.catalog_id == catalog_id for observation in new)
    times = [observation.observed_at for observation in new]
    if start is not None:
        times.append(start)
    moment = min(times)
    following = recorded(connection, catalog_id, since=moment)
    versions, prices = rewind(connection, catalog_id, moment)
    observations = sorted([*following, *new], key=lambda o: o.observed_at)
    report = replay(connection, observations, guard=guard, progress=progress)
    restore_fingerprints(connection, catalog_id, moment)
    report.versions_written -= versions
    report.price_rows_written -= prices
    return report


def rederive(
    connection: Connection,
    new: list[Observation],
    *,
    guard: RemovalGuard | None = None,
    progress: Progress | None = None,
) -> Replayed:
    """Rebuild every derived table from nothing: the recorded observations of every catalog
    plus ``new`` ones, applied in time order."""
    observations = sorted([*recorded(connection), *new], key=lambda o: o.observed_at)
    deleted = {table: connection.execute(delete(table)).rowcount for table in DERIVED_TABLES}
    report = replay(connection, observations, guard=guard, progress=progress)
    report.versions_written -= deleted[model_versions_table]
    report.price_rows_written -= deleted[prices_table]
    return report


def replay(
    connection: Connection,
    observations: Iterable[Observation],
    *,
    guard: RemovalGuard | None = None,
    progress: Progress | None = None,
) -> Replayed:
    """Apply observations in the given order on top of what is stored; ``progress`` is told
    how far it got when they are a list. Counts the observations applied and the version and
    price rows they wrote."""
    report = Replayed()
    parsed: dict[tuple[str, str], RawCatalog] = {}
    total = len(observations) if isinstance(observations, Sized) else None
    for number, observation in enumerate(observations, start=1):
        if progress and total is not None:
            progress("applying", number, total)
        catalog = observation.catalog or _archived(connection, observation, parsed)
        applied = apply_catalog(
            connection,
            catalog,
            catalog_id=observation.catalog_id,
            observed_at=observation.observed_at,
            run_id=observation.run_id,
            guard=guard if observation.source is not None else None,
            hold=observation.held,
        )
        outcome = outcome_of(applied)
        report.versions_written += applied.counts.versions_written
        report.price_rows_written += applied.price_rows
        report.observations += outcome.status == "succeeded"
        report.outcomes[observation.run_id] = outcome
        _close_run(connection, observation.run_id, outcome)
        # Freed before the next one is read: memory stays that of one catalog.
        observation.catalog = None
        del catalog
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


def _close_run(connection: Connection, run_id: int, outcome: Outcome) -> None:
    run = update(sync_runs_table).where(sync_runs_table.c.id == run_id)
    connection.execute(
        run.values(
            status=outcome.status,
            normalization_version=NORMALIZATION_VERSION if outcome.status == "succeeded" else None,
            providers=outcome.providers,
            warnings=outcome.warnings,
            error=outcome.error,
            held_providers=outcome.held or None,
            **asdict(outcome.counts),
        )
    )
    # A replayed run keeps the time it first finished; a new one finishes now.
    connection.execute(
        run.where(sync_runs_table.c.finished_at.is_(None)).values(finished_at=utcnow())
    )
