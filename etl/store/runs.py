"""The ``sync_runs`` table's rows: every sync attempt is recorded before any work starts,
and finished with its outcome, counts and warnings, or its reason for failing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from etl.db.engine import describe_error
from etl.db.tables import RUN_COUNTS, sync_runs_table
from etl.errors import DatabaseUnavailable
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.times import iso, utcnow


@dataclass
class SyncResult:
    """A sync's outcome, as recorded in its ``sync_runs`` row."""

    run_id: int
    status: str
    """``succeeded``, ``failed``, ``held`` (mass-removal guard) or ``skipped`` (locked)."""
    observed_at: datetime | None
    source: str | None
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

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["observed_at"] = iso(self.observed_at) if self.observed_at else None
        return data


def start_run(engine: Engine, source: str | None, provider: str, observed_at: datetime) -> int:
    """Record a new ``running`` run in a transaction of its own; its id."""
    try:
        with engine.begin() as connection:
            run_id: int = connection.execute(
                insert(sync_runs_table)
                .values(
                    status="running",
                    source=source,
                    default_provider=provider,
                    observed_at=observed_at,
                    started_at=utcnow(),
                    warnings=[],
                )
                .returning(sync_runs_table.c.id)
            ).scalar_one()
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(f"cannot record the run: {describe_error(error)}") from None
    return run_id


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
)


def finish_run(connection: Connection, result: SyncResult) -> None:
    """Write a run's outcome, counts and warnings to its row."""
    values = {name: getattr(result, name) for name in _RUN_COLUMNS}
    version = NORMALIZATION_VERSION if result.ok else None
    connection.execute(
        update(sync_runs_table)
        .where(sync_runs_table.c.id == result.run_id)
        .values(finished_at=utcnow(), normalization_version=version, **values)
    )


def record_failure(engine: Engine, result: SyncResult) -> None:
    """Record a run that did not apply, after its transaction was rolled back."""
    # Nothing of the rolled-back transaction may show in the run row.
    for name in ("models_seen", "added", "removed", "returned", "versions_written"):
        setattr(result, name, 0)
    result.price_changes = 0
    if result.status == "succeeded":
        result.status = "failed"
    try:
        with engine.begin() as connection:
            finish_run(connection, result)
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(
            f"{result.error}; the failure could not be recorded: {describe_error(error)}"
        ) from None


def latest_run(connection: Connection) -> Row[Any] | None:
    """The succeeded run with the latest observation time: the end of the history."""
    latest = connection.execute(
        select(
            sync_runs_table.c.observed_at,
            sync_runs_table.c.payload_sha256,
            sync_runs_table.c.default_provider,
            sync_runs_table.c.normalization_version,
            sync_runs_table.c.shape,
            sync_runs_table.c.providers,
            sync_runs_table.c.models_seen,
            sync_runs_table.c.warnings,
        )
        .where(sync_runs_table.c.status == "succeeded", sync_runs_table.c.observed_at.is_not(None))
        # The first run at a time is the one that applied it; a re-run there applied nothing.
        .order_by(sync_runs_table.c.observed_at.desc(), sync_runs_table.c.id)
        .limit(1)
    ).first()
    return cast("Row[Any] | None", latest)


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
