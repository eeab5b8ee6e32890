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
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import SQLAlchemyError

from etl.collector import collector_paused
from etl.db.engine import describe_error
from etl.db.tables import sync_runs_table
from etl.errors import SyncBusy, SyncError, SyncHeld
from etl.ingest.normalize import NORMALIZATION_VERSION
from etl.ingest.payload import PayloadError
from etl.ingest.shapes import DEFAULT_PROVIDER, RawCatalog, parse_catalog
from etl.store.archive import archive_payload
from etl.store.availability import mark_seen
from etl.store.guard import DEFAULT_MAX_REMOVED_SHARE as DEFAULT_MAX_REMOVED_SHARE
from etl.store.history import Observation, rederive
from etl.store.load import LoadCounts, apply_catalog
from etl.store.locks import sync_transaction
from etl.store.runs import SyncResult as SyncResult
from etl.store.runs import abandon_run as abandon_run
from etl.store.runs import finish_run, latest_run, record_failure, start_run
from etl.times import iso, utcnow

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Obtained:
    """A payload and how it was obtained."""

    raw: bytes
    http_status: int | None = None
    attempts: int | None = None


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
        run_id=start_run(engine, source, provider, observed_at),
        status="failed",
        observed_at=observed_at,
        source=source,
    )
    if on_start is not None:
        on_start(result.run_id)
    try:
        _obtain_and_apply(engine, obtain, result, provider, max_removed_share, lock_timeout)
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
        record_failure(engine, result)
        raise
    if not result.ok:
        record_failure(engine, result)
    return result


def _obtain_and_apply(
    engine: Engine,
    obtain: Callable[[], Obtained],
    result: SyncResult,
    provider: str,
    max_removed_share: float | None,
    lock_timeout: float,
) -> None:
    """Obtain the payload, then apply it and finish the run in one transaction under the
    sync lock; ``result`` is filled in as it goes."""
    obtained = obtain()
    result.http_status, result.attempts = obtained.http_status, obtained.attempts
    result.bytes = len(obtained.raw)
    result.payload_sha256 = hashlib.sha256(obtained.raw).hexdigest()
    with collector_paused(), sync_transaction(engine, wait=lock_timeout) as connection:
        latest = latest_run(connection)
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
