"""One sync: obtain bytes -> parse -> detect the shape -> validate and normalize -> apply.
Bytes equal to those the latest observation applied change nothing and are not parsed.

Every attempt is a row in ``sync_runs``, written before any work starts. The data and the
run's final status are then written in one transaction, so a sync applies completely or
not at all. When it cannot be applied the transaction is rolled back and the run is marked
``failed`` (or ``held``, by the mass-removal guard) with a one-line reason. A process killed
half-way leaves its run ``running``.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from etl.collector import collector_paused
from etl.db.engine import describe_error
from etl.db.tables import RUN_COUNTS, sync_runs_table
from etl.errors import DatabaseUnavailable, SyncBusy, SyncError, SyncHeld
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.ingest.payload import PayloadError
from etl.ingest.shapes import DEFAULT_PROVIDER, RawCatalog, parse_catalog
from etl.store.archive import archive_payload
from etl.store.availability import mark_seen
from etl.store.guard import DEFAULT_MAX_REMOVED_SHARE as DEFAULT_MAX_REMOVED_SHARE
from etl.store.history import Observation, rederive
from etl.store.load import LoadCounts, apply_catalog
from etl.store.locks import sync_transaction
from etl.times import iso, utcnow

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Obtained:
    """A payload and how it was obtained."""

    raw: bytes
    http_status: int | None = None
    attempts: int | None = None


@dataclass
class SyncResult:
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


def sync_file(
    engine: Engine,
    path: str | Path,
    *,
    observed_at: datetime | None = None,
    provider: str = DEFAULT_PROVIDER,
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE,
    lock_timeout: float = 0.0,
) -> SyncResult:
    """Sync a catalog saved in a file (``.json``, or gzip-compressed)."""
    file = Path(path)

    def read() -> Obtained:
        try:
            raw = file.read_bytes()
        except OSError as error:
            raise SyncError(f"cannot read {file}: {error.strerror or error}") from None
        if raw.startswith(GZIP_MAGIC):
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as error:
                raise SyncError(f"{file} is not a readable gzip file: {error}") from None
        return Obtained(raw)

    return run_sync(
        engine,
        read,
        source=str(file),
        observed_at=observed_at,
        provider=provider,
        max_removed_share=max_removed_share,
        lock_timeout=lock_timeout,
    )


def sync_url(
    engine: Engine,
    url: str,
    *,
    token: str | None = None,
    fetch_settings: Any = None,
    observed_at: datetime | None = None,
    provider: str = DEFAULT_PROVIDER,
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE,
    lock_timeout: float = 0.0,
    on_start: Callable[[int], None] | None = None,
    **fetch_options: Any,
) -> SyncResult:
    """Fetch a catalog over HTTP (see :func:`etl.ingest.fetch.fetch_catalog`) and sync it.

    ``fetch_options`` (a client, sleep or clock) go to the fetch unchanged, for tests.
    """
    from etl.ingest.fetch import FetchSettings, fetch_catalog, safe_url

    def fetch() -> Obtained:
        fetched = fetch_catalog(
            url, token=token, settings=fetch_settings or FetchSettings(), **fetch_options
        )
        return Obtained(fetched.raw, fetched.http_status, fetched.attempts)

    shown = safe_url(url)
    if token:
        shown = shown.replace(token, "***")
    return run_sync(
        engine,
        fetch,
        source=shown,
        observed_at=observed_at,
        provider=provider,
        max_removed_share=max_removed_share,
        lock_timeout=lock_timeout,
        on_start=on_start,
    )


def sync_bytes(
    engine: Engine,
    raw: bytes,
    *,
    source: str | None = None,
    observed_at: datetime | None = None,
    provider: str = DEFAULT_PROVIDER,
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE,
) -> SyncResult:
    """Sync a catalog payload already in memory."""
    return run_sync(
        engine,
        lambda: Obtained(raw),
        source=source,
        observed_at=observed_at,
        provider=provider,
        max_removed_share=max_removed_share,
    )


def run_sync(
    engine: Engine,
    obtain: Callable[[], Obtained],
    *,
    source: str | None,
    observed_at: datetime | None = None,
    provider: str = DEFAULT_PROVIDER,
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE,
    lock_timeout: float = 0.0,
    on_start: Callable[[int], None] | None = None,
) -> SyncResult:
    """Record a run, obtain the payload, and apply it in one transaction.

    ``max_removed_share``: hold the sync (status ``held``, nothing applied) when it would
    retire more than this share of a provider's available models; None applies anyway.
    ``lock_timeout``: seconds to wait for another sync to finish before giving up as
    ``skipped``. ``on_start`` is told the run id as soon as the run is recorded.
    """
    observed_at = observed_at or utcnow()
    result = SyncResult(
        run_id=_start_run(engine, source, provider, observed_at),
        status="failed",
        observed_at=observed_at,
        source=source,
    )
    if on_start is not None:
        on_start(result.run_id)
    try:
        obtained = obtain()
        result.http_status, result.attempts = obtained.http_status, obtained.attempts
        result.bytes = len(obtained.raw)
        result.payload_sha256 = hashlib.sha256(obtained.raw).hexdigest()
        with collector_paused(), sync_transaction(engine, wait=lock_timeout) as connection:
            latest = _latest_run(connection)
            if latest is not None and _same_observation(latest, result, provider):
                counts = _observe_again(connection, latest, result)
            else:
                # Only the records are kept, not the parsed document: see consume below.
                raw = parse_catalog(obtained.raw, provider, sha256=result.payload_sha256)[1]
                result.shape, result.providers = raw.shape, raw.providers
                result.warnings = raw.warnings
                latest_at = latest.observed_at if latest is not None else None
                counts = _apply(
                    connection, obtained.raw, raw, result, latest_at, max_removed_share, provider
                )
            result.status = "succeeded"
            for name, value in asdict(counts).items():
                setattr(result, name, value)
            finish_run(connection, result)
    except SyncHeld as error:
        result.status, result.error = "held", str(error)
    except SyncBusy as error:
        result.status, result.error = "skipped", str(error)
    except (SyncError, PayloadError) as error:
        result.error, result.retryable = str(error), getattr(error, "retryable", False)
        result.http_status = getattr(error, "http_status", result.http_status)
        result.attempts = getattr(error, "attempts", result.attempts)
    except SQLAlchemyError as error:
        result.error, result.retryable = f"database error: {describe_error(error)}", True
    except Exception as error:
        # A bug, not bad input: record it so the run does not look like it is still going.
        result.error = f"internal error: {type(error).__name__}: {error}"
        _record_failure(engine, result)
        raise
    if not result.ok:
        _record_failure(engine, result)
    return result


def _latest_run(connection: Connection) -> Row[Any] | None:
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


def _same_observation(latest: Row[Any], result: SyncResult, provider: str) -> bool:
    """The latest observation applied these very bytes for the same default provider with
    the normalization in use, and this one comes after it."""
    assert result.observed_at is not None
    return bool(
        latest.observed_at < result.observed_at
        and latest.payload_sha256 == result.payload_sha256
        and latest.default_provider == provider
        and latest.normalization_version == NORMALIZATION_VERSION
    )


def _observe_again(connection: Connection, latest: Row[Any], result: SyncResult) -> LoadCounts:
    # The catalog is byte for byte the one the history ends with, so it changes nothing but
    # the time its complete providers were last seen: no need to parse it again.
    assert result.observed_at is not None
    result.shape, result.warnings = latest.shape, list(latest.warnings)
    result.providers = latest.providers
    mark_seen(
        connection,
        (name for name, on in (latest.providers or {}).items() if on),
        result.observed_at,
    )
    return LoadCounts(models_seen=latest.models_seen)


def _apply(
    connection: Connection,
    raw: bytes,
    raw_catalog: RawCatalog,
    result: SyncResult,
    latest_at: datetime | None,
    max_removed_share: float | None,
    provider: str,
) -> LoadCounts:
    observed_at, sha256 = result.observed_at, result.payload_sha256
    assert observed_at is not None and sha256 is not None
    if latest_at is not None and observed_at <= latest_at:  # else no run was observed then
        same_time = connection.execute(
            select(sync_runs_table.c.payload_sha256).where(
                sync_runs_table.c.status == "succeeded",
                sync_runs_table.c.observed_at == observed_at,
            )
        ).first()
        if same_time is not None:
            if same_time.payload_sha256 == sha256:
                return LoadCounts()  # this very observation was applied before: a no-op
            raise SyncError(f"another payload was already observed at {iso(observed_at)}")
    archive_payload(connection, raw, sha256, utcnow())
    if latest_at is not None and observed_at < latest_at:
        # Older than the history's end (a backfill, or a sync that lost a race): merge it
        # into the timeline by re-deriving the history from the archive.
        merged = rederive(
            connection,
            [Observation(result.run_id, observed_at, sha256, provider, raw_catalog, "sync")],
            max_removed_share=max_removed_share,
        )
        outcome = merged.outcomes[result.run_id]
        if outcome.error is not None:
            raise SyncHeld(outcome.error)
        result.warnings = outcome.warnings
        return outcome.counts
    counts, catalog = apply_catalog(
        connection,
        raw_catalog,
        observed_at=observed_at,
        run_id=result.run_id,
        max_removed_share=max_removed_share,
        consume=True,
    )
    result.warnings = catalog.warnings
    return counts


def _start_run(engine: Engine, source: str | None, provider: str, observed_at: datetime) -> int:
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


def _record_failure(engine: Engine, result: SyncResult) -> None:
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
