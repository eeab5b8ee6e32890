"""One sync: obtain bytes -> parse -> detect the shape -> validate and normalize -> apply.

Every attempt is a row in ``sync_runs``, written before any work starts. The data and the
run's final status are then written in one transaction, so a sync applies completely or
not at all; when it fails, the transaction is rolled back and the run is marked
``failed`` with a one-line reason. A process killed half-way leaves its run ``running``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from etl.archive import archive_payload
from etl.db.engine import describe_error, write_transaction
from etl.db.tables import SyncRun
from etl.errors import DatabaseUnavailable, SyncError
from etl.load import LoadCounts, apply_catalog
from etl.normalize import build_catalog
from etl.payload import PayloadError, read_payload
from etl.shapes import DEFAULT_PROVIDER, detect
from etl.times import iso, utcnow

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class SyncResult:
    run_id: int
    status: str
    """``succeeded`` or ``failed``."""
    observed_at: datetime | None
    source: str | None
    shape: str | None = None
    models_seen: int = 0
    added: int = 0
    removed: int = 0
    returned: int = 0
    versions_written: int = 0
    price_changes: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

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
) -> SyncResult:
    """Sync a catalog saved in a file (``.json``, or gzip-compressed)."""
    file = Path(path)

    def read() -> bytes:
        try:
            raw = file.read_bytes()
        except OSError as error:
            raise SyncError(f"cannot read {file}: {error.strerror or error}") from None
        if raw.startswith(GZIP_MAGIC):
            try:
                return gzip.decompress(raw)
            except (OSError, EOFError) as error:
                raise SyncError(f"{file} is not a readable gzip file: {error}") from None
        return raw

    return run_sync(engine, read, source=str(file), observed_at=observed_at, provider=provider)


def sync_bytes(
    engine: Engine,
    raw: bytes,
    *,
    source: str | None = None,
    observed_at: datetime | None = None,
    provider: str = DEFAULT_PROVIDER,
) -> SyncResult:
    """Sync a catalog payload already in memory."""
    return run_sync(engine, lambda: raw, source=source, observed_at=observed_at, provider=provider)


def run_sync(
    engine: Engine,
    obtain: Callable[[], bytes],
    *,
    source: str | None,
    observed_at: datetime | None = None,
    provider: str = DEFAULT_PROVIDER,
) -> SyncResult:
    """Record a run, obtain the payload, and apply it in one transaction."""
    observed_at = observed_at or utcnow()
    result = SyncResult(
        run_id=_start_run(engine, source, provider, observed_at),
        status="failed",
        observed_at=observed_at,
        source=source,
    )
    raw: bytes | None = None
    try:
        raw = obtain()
        payload = read_payload(raw)
        catalog = build_catalog(detect(payload.document, default_provider=provider))
        result.shape = catalog.shape
        result.warnings = catalog.warnings
        if payload.repaired_strings:
            result.warnings.append(
                f"repaired {payload.repaired_strings} strings holding NUL or lone UTF-16"
                " surrogates (replaced by U+FFFD)"
            )
        with write_transaction(engine) as connection:
            counts = _apply(connection, payload.raw, payload.sha256, catalog, result)
            result.status = "succeeded"
            for name, value in asdict(counts).items():
                setattr(result, name, value)
            _finish_run(connection, result, raw)
    except (SyncError, PayloadError) as error:
        result.error = str(error)
    except SQLAlchemyError as error:
        result.error = f"database error: {describe_error(error)}"
    except Exception as error:
        # A bug, not bad input: record it so the run does not look like it is still going.
        result.error = f"internal error: {type(error).__name__}: {error}"
        _record_failure(engine, result, raw)
        raise
    if not result.ok:
        _record_failure(engine, result, raw)
    return result


def _apply(
    connection: Connection, raw: bytes, sha256: str, catalog: Any, result: SyncResult
) -> LoadCounts:
    assert result.observed_at is not None
    latest = connection.execute(
        select(SyncRun.observed_at, SyncRun.payload_sha256)
        .where(SyncRun.status == "succeeded")
        .order_by(SyncRun.observed_at.desc())
        .limit(1)
    ).first()
    if latest is not None and result.observed_at <= latest.observed_at:
        if result.observed_at == latest.observed_at and sha256 == latest.payload_sha256:
            # The same payload at the same time: already applied, nothing to do.
            return LoadCounts(models_seen=len(catalog.records) + len(catalog.listed_but_rejected))
        raise SyncError(
            f"observation time {iso(result.observed_at)} is not after the latest recorded"
            f" observation {iso(latest.observed_at)}; syncs must move forward in time"
        )
    archive_payload(connection, raw, sha256, utcnow())
    return apply_catalog(connection, catalog, observed_at=result.observed_at, run_id=result.run_id)


def _start_run(engine: Engine, source: str | None, provider: str, observed_at: datetime) -> int:
    try:
        with engine.begin() as connection:
            run_id: int = connection.execute(
                insert(SyncRun)
                .values(
                    status="running",
                    source=source,
                    default_provider=provider,
                    observed_at=observed_at,
                    started_at=utcnow(),
                    warnings=[],
                )
                .returning(SyncRun.id)
            ).scalar_one()
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(f"cannot record the run: {describe_error(error)}") from None
    return run_id


def _finish_run(connection: Connection, result: SyncResult, raw: bytes | None) -> None:
    connection.execute(
        update(SyncRun)
        .where(SyncRun.id == result.run_id)
        .values(
            status=result.status,
            finished_at=utcnow(),
            shape=result.shape,
            bytes=None if raw is None else len(raw),
            payload_sha256=None if raw is None else _sha256(raw),
            models_seen=result.models_seen,
            added=result.added,
            removed=result.removed,
            returned=result.returned,
            versions_written=result.versions_written,
            price_changes=result.price_changes,
            warnings=result.warnings,
            error=result.error,
        )
    )


def _record_failure(engine: Engine, result: SyncResult, raw: bytes | None) -> None:
    # Nothing of the rolled-back transaction may show in the run row.
    failed = SyncResult(result.run_id, "failed", result.observed_at, result.source, result.shape)
    failed.warnings, failed.error = result.warnings, result.error
    result.__dict__.update(failed.__dict__)
    try:
        with engine.begin() as connection:
            _finish_run(connection, result, raw)
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(
            f"{result.error}; the failure could not be recorded: {describe_error(error)}"
        ) from None


def _sha256(raw: bytes) -> str:
    import hashlib

    return hashlib.sha256(raw).hexdigest()
