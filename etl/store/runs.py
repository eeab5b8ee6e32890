"""The ``sync_runs`` table's rows: every sync attempt is recorded before any work starts,
and finished with its outcome, counts and warnings, or its reason for failing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from etl.db.engine import describe_error
from etl.db.tables import RUN_COUNTS, sync_runs_table
from etl.errors import DatabaseUnavailable, SyncBusy
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.store.catalogs import DEFAULT_CATALOG
from etl.times import iso, utcnow


@dataclass
class SyncResult:
    """A sync's outcome, as recorded in its ``sync_runs`` row."""

    run_id: int
    status: str
    """``succeeded``, ``failed``, ``held`` (every provider held by the mass-removal guard) or
    ``skipped`` (another sync held the lock, or another replica claimed the tick)."""
    observed_at: datetime | None
    source: str | None
    catalog: str = DEFAULT_CATALOG
    """The catalog whose history the observation joined."""
    shape: str | None = None
    http_status: int | None = None
    attempts: int | None = None
    bytes: int | None = None
    payload_sha256: str | None = None
    models_seen: int = 0
    added: int = 0
    removed: int = 0
    returned: int = 0
    versions_written: int = 0
    price_changes: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    retryable: bool = False
    """For a failed run: whether trying again later may succeed (timeouts, 5xx)."""
    providers: dict[str, bool] | None = None
    """The providers the catalog spoke for, and whether each said it is configured."""
    held_providers: dict[str, str] | None = None
    """Providers the mass-removal guard kept as they were, each with the reason."""
    notifications: int = 0
    """Messages written to the outbox for the run's subscribers (not a column)."""

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["observed_at"] = iso(self.observed_at) if self.observed_at else None
        return data


class TickClaimed(SyncBusy):
    """Another ``serve`` replica claimed this scheduled tick: it fetches, this one does not."""

    def __init__(self, message: str, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id
        """The ``skipped`` run recorded for this replica."""


def start_run(
    engine: Engine,
    source: str | None,
    provider: str,
    observed_at: datetime,
    *,
    catalog_id: int,
    tick_at: datetime | None = None,
) -> int:
    """Record a new ``running`` run of catalog ``catalog_id`` in a transaction of its own;
    its id.

    ``tick_at``: the scheduled tick this run claims. The first run to claim a catalog's tick
    gets it;
    any other is recorded ``skipped`` at once and :class:`TickClaimed` raised, so that one
    replica per tick contacts the upstream."""
    values: dict[str, Any] = {
        "catalog_id": catalog_id,
        "source": source,
        "default_provider": provider,
        "observed_at": observed_at,
        "started_at": utcnow(),
        "warnings": [],
    }
    try:
        try:
            return _insert_run(engine, status="running", tick_at=tick_at, **values)
        except IntegrityError:
            claimant = _tick_claimant(engine, catalog_id, tick_at)
            if claimant is None:
                raise
        assert tick_at is not None  # only a claimed tick has a claimant
        reason = f"tick {iso(tick_at)} was claimed by run {claimant}: skipped, nothing fetched"
        skipped = _insert_run(
            engine, status="skipped", finished_at=values["started_at"], error=reason, **values
        )
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(f"cannot record the run: {describe_error(error)}") from None
    raise TickClaimed(reason, skipped)


def _insert_run(engine: Engine, **values: Any) -> int:
    with engine.begin() as connection:
        run_id: int = connection.execute(
            insert(sync_runs_table).values(**values).returning(sync_runs_table.c.id)
        ).scalar_one()
    return run_id


def _tick_claimant(engine: Engine, catalog_id: int, tick_at: datetime | None) -> int | None:
    if tick_at is None:
        return None
    with engine.connect() as connection:
        claimant: int | None = connection.execute(
            select(sync_runs_table.c.id).where(
                sync_runs_table.c.catalog_id == catalog_id, sync_runs_table.c.tick_at == tick_at
            )
        ).scalar()
    return claimant


_RUN_COLUMNS = (
    "status",
    "shape",
    "http_status",
    "attempts",
    "bytes",
    "payload_sha256",
    *RUN_COUNTS,
    "warnings",
    "error",
    "providers",
    "held_providers",
)


def finish_run(connection: Connection, result: SyncResult, *, only_running: bool = False) -> bool:
    """Write a run's outcome, counts and warnings to its row; with ``only_running``, only
    if the row still says ``running``. True when the row was written."""
    values = {name: getattr(result, name) for name in _RUN_COLUMNS}
    version = NORMALIZATION_VERSION if result.ok else None
    row = update(sync_runs_table).where(sync_runs_table.c.id == result.run_id)
    if only_running:
        row = row.where(sync_runs_table.c.status == "running")
    done = connection.execute(
        row.values(finished_at=utcnow(), normalization_version=version, **values)
    )
    return bool(done.rowcount)


def record_failure(engine: Engine, result: SyncResult) -> None:
    """Record a run that did not apply, after its transaction was rolled back.

    Only a run still ``running`` becomes ``failed``. A commit whose acknowledgement was lost
    (the connection dropped as the database committed) left its run ``succeeded``: then the
    run is what the database says, and ``result`` is filled in from its row."""
    # Nothing of the rolled-back transaction may show in the run row.
    for name in ("models_seen", "added", "removed", "returned", "versions_written"):
        setattr(result, name, 0)
    result.price_changes = 0
    if result.status == "succeeded":
        result.status = "failed"
    try:
        with engine.begin() as connection:
            if not finish_run(connection, result, only_running=True):
                _read_back(connection, result)
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(
            f"{result.error}; the failure could not be recorded: {describe_error(error)}"
        ) from None


def _read_back(connection: Connection, result: SyncResult) -> None:
    row = connection.execute(
        select(sync_runs_table).where(sync_runs_table.c.id == result.run_id)
    ).one()
    lost = result.error
    for name in _RUN_COLUMNS:
        setattr(result, name, getattr(row, name))
    result.retryable = False
    if result.status in ("succeeded", "held"):
        result.warnings = [*result.warnings, f"the run had committed, though: {lost}"]


def latest_run(
    connection: Connection, catalog_id: int, before: datetime | None = None
) -> Row[Any] | None:
    """The succeeded run of catalog ``catalog_id`` with the latest observation time (before
    ``before``): the end of its history (or the observation just before a time)."""
    query = (
        select(
            sync_runs_table.c.observed_at,
            sync_runs_table.c.payload_sha256,
            sync_runs_table.c.default_provider,
            sync_runs_table.c.normalization_version,
            sync_runs_table.c.shape,
            sync_runs_table.c.providers,
            sync_runs_table.c.models_seen,
            sync_runs_table.c.warnings,
            sync_runs_table.c.held_providers,
        )
        .where(
            sync_runs_table.c.catalog_id == catalog_id,
            sync_runs_table.c.status == "succeeded",
            sync_runs_table.c.observed_at.is_not(None),
        )
        # The first run at a time is the one that applied it; a re-run there applied nothing.
        .order_by(sync_runs_table.c.observed_at.desc(), sync_runs_table.c.id)
        .limit(1)
    )
    if before is not None:
        query = query.where(sync_runs_table.c.observed_at < before)
    return cast("Row[Any] | None", connection.execute(query).first())


def abandon_run(engine: Engine, run_id: int, reason: str) -> bool:
    """Mark a run that is still ``running`` as ``failed`` with ``reason`` (its process is
    giving up on it); False when it already finished or the database did not answer."""
    try:
        with engine.begin() as connection:
            done = connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.id == run_id, sync_runs_table.c.status == "running")
                .values(status="failed", finished_at=utcnow(), error=reason)
            )
    except SQLAlchemyError:
        return False
    return bool(done.rowcount)
