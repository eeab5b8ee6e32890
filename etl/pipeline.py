"""One sync: obtain bytes -> parse -> detect the shape -> validate and normalize -> apply.
Bytes equal to those the latest observation applied change nothing and are not parsed.

Every attempt is a row in ``sync_runs``, written before any work starts. The data and the
run's final status are then written in one transaction, so a sync applies completely or
not at all. When it cannot be applied the transaction is rolled back and the run is marked
``failed`` with a one-line reason. A process killed half-way leaves its run ``running``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from etl.collector import collector_paused
from etl.db.engine import describe_error
from etl.errors import DatabaseUnavailable, SyncBusy, SyncError
from etl.ingest.decompress import DEFAULT_MAX_BYTES, read_catalog_file
from etl.ingest.payload import PayloadError
from etl.ingest.shapes import DEFAULT_PROVIDER
from etl.notify.outbox import enqueue
from etl.notify.subscriptions import Subscription
from etl.store.catalogs import DEFAULT_CATALOG, ensure_catalog
from etl.store.guard import DEFAULT_MASS_REMOVAL_FLOOR as DEFAULT_MASS_REMOVAL_FLOOR
from etl.store.guard import DEFAULT_MAX_REMOVED_SHARE as DEFAULT_MAX_REMOVED_SHARE
from etl.store.guard import removal_guard
from etl.store.locks import sync_transaction
from etl.store.observe import observe
from etl.store.runs import SyncResult as SyncResult
from etl.store.runs import TickClaimed, finish_run, record_failure, start_run
from etl.store.runs import abandon_run as abandon_run
from etl.text import path_text
from etl.times import DEFAULT_MAX_CLOCK_SKEW as DEFAULT_MAX_CLOCK_SKEW
from etl.times import future_problem, utcnow


class SyncOptions(TypedDict, total=False):
    """How a sync is applied; every one optional, with the default given."""

    observed_at: datetime | None
    """When the catalog was observed (default now)."""
    catalog: str
    """The catalog whose history the observation joins (``default``)."""
    provider: str
    """The provider of OpenRouter-shaped catalogs, which name none (``openrouter``)."""
    max_removed_share: float | None
    """Hold a provider whose catalog would retire more than this share of its available
    models (0.25); None applies everything."""
    mass_removal_floor: int
    """...unless fewer models than this would go (5)."""
    lock_timeout: float
    """Seconds to wait while another sync applies, before giving up as ``skipped`` (0)."""
    max_clock_skew: float
    """Seconds an observation may lie in the future (300)."""
    tick_at: datetime | None
    """The scheduled tick this sync claims (``serve``): one sync per tick fetches."""
    on_start: Callable[[int], None] | None
    """Told the run id as soon as the run is recorded."""
    subscriptions: Sequence[Subscription]
    """Who hears of the changes: their messages are written in the sync's transaction (the
    outbox, :mod:`etl.notify`), to be delivered after the commit (none)."""


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
    max_bytes: int = DEFAULT_MAX_BYTES,
    **options: Unpack[SyncOptions],
) -> SyncResult:
    """Sync a catalog saved in a file (``.json``, or gzip-compressed: decompressed to at most
    ``max_bytes``)."""
    file = Path(path)
    name = path_text(file)  # stored in the run: a name that is not UTF-8 still has to be text

    def read() -> Obtained:
        try:
            return Obtained(read_catalog_file(file, max_bytes))
        except OSError as error:
            raise SyncError(f"cannot read {name}: {error.strerror or error}") from None
        except ValueError as error:  # not gzip after all, or a decompression bomb
            raise SyncError(path_text(error)) from None

    return run_sync(engine, read, source=name, **options)


def sync_url(
    engine: Engine,
    url: str,
    *,
    token: str | None = None,
    fetch_settings: Any = None,
    fetch: Mapping[str, Any] | None = None,
    **options: Unpack[SyncOptions],
) -> SyncResult:
    """Fetch a catalog over HTTP (see :func:`etl.ingest.fetch.fetch_catalog`) and sync it.

    ``fetch``: more arguments for the fetch (a client, sleep or clock).
    """
    from etl.ingest.fetch import FetchSettings, fetch_catalog, safe_url

    def obtain() -> Obtained:
        fetched = fetch_catalog(
            url, token=token, settings=fetch_settings or FetchSettings(), **(fetch or {})
        )
        return Obtained(fetched.raw, fetched.http_status, fetched.attempts)

    shown = safe_url(url)
    if token:
        shown = shown.replace(token, "***")
    return run_sync(engine, obtain, source=shown, **options)


def sync_bytes(
    engine: Engine, raw: bytes, *, source: str | None = None, **options: Unpack[SyncOptions]
) -> SyncResult:
    """Sync a catalog payload already in memory."""
    return run_sync(engine, lambda: Obtained(raw), source=source, **options)


def run_sync(
    engine: Engine,
    obtain: Callable[[], Obtained],
    *,
    source: str | None,
    **options: Unpack[SyncOptions],
) -> SyncResult:
    """Record a run, obtain the payload, and apply it in one transaction (see
    :class:`SyncOptions`)."""
    observed_at = options.get("observed_at") or utcnow()
    provider = options.get("provider", DEFAULT_PROVIDER)
    catalog = options.get("catalog", DEFAULT_CATALOG)
    try:
        catalog_id = ensure_catalog(engine, catalog)
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(f"cannot record the run: {describe_error(error)}") from None
    try:
        run_id = start_run(
            engine,
            source,
            provider,
            observed_at,
            catalog_id=catalog_id,
            tick_at=options.get("tick_at"),
        )
    except TickClaimed as claimed:
        return SyncResult(
            claimed.run_id, "skipped", observed_at, source, catalog=catalog, error=str(claimed)
        )
    result = SyncResult(run_id, "failed", observed_at, source, catalog=catalog)
    on_start = options.get("on_start")
    if on_start is not None:
        on_start(result.run_id)
    try:
        _obtain_and_apply(engine, obtain, result, provider, catalog_id, options)
    except SyncBusy as error:
        result.status, result.error = "skipped", str(error)
    # In every failure below the apply's transaction is gone, whatever it had set: the run
    # is failed (record_failure then reads a commit whose acknowledgement was lost).
    except (SyncError, PayloadError) as error:
        result.status, result.error = "failed", str(error)
        result.retryable = getattr(error, "retryable", False)
        result.http_status = getattr(error, "http_status", result.http_status)
        result.attempts = getattr(error, "attempts", result.attempts)
    except SQLAlchemyError as error:
        result.status, result.error = "failed", f"database error: {describe_error(error)}"
        result.retryable = True
    except Exception as error:
        # A bug, not bad input: record it so the run does not look like it is still going.
        result.status, result.error = "failed", f"internal error: {type(error).__name__}: {error}"
        record_failure(engine, result)
        raise
    if result.status not in ("succeeded", "held"):
        record_failure(engine, result)
    return result


def _obtain_and_apply(
    engine: Engine,
    obtain: Callable[[], Obtained],
    result: SyncResult,
    provider: str,
    catalog_id: int,
    options: SyncOptions,
) -> None:
    """Obtain the payload, then apply it and finish the run in one transaction under the
    sync lock; ``result`` is filled in as it goes."""
    assert result.observed_at is not None
    problem = future_problem(
        result.observed_at, options.get("max_clock_skew", DEFAULT_MAX_CLOCK_SKEW)
    )
    if problem is not None:
        raise SyncError(problem)
    guard = removal_guard(
        options.get("max_removed_share", DEFAULT_MAX_REMOVED_SHARE),
        options.get("mass_removal_floor", DEFAULT_MASS_REMOVAL_FLOOR),
    )
    obtained = obtain()
    result.http_status, result.attempts = obtained.http_status, obtained.attempts
    result.bytes = len(obtained.raw)
    result.payload_sha256 = hashlib.sha256(obtained.raw).hexdigest()
    lock_timeout = options.get("lock_timeout", 0.0)
    with (
        collector_paused(),
        sync_transaction(engine, wait=lock_timeout, catalog=result.catalog) as connection,
    ):
        observe(
            connection, obtained.raw, result, provider=provider, guard=guard, catalog_id=catalog_id
        )
        finish_run(connection, result)
        if result.ok and _changed(result):
            result.notifications = enqueue(
                connection, options.get("subscriptions", ()), result.run_id, utcnow()
            )


def _changed(result: SyncResult) -> bool:
    counts = (result.added, result.removed, result.returned, result.versions_written)
    return any(counts) or result.price_changes > 0
