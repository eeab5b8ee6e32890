"""How each tick's outcome is logged: one line for people, with the run's fields for JSON.

Every line's fields name the catalog; the line for people starts with it (``insforge: run 42
succeeded ...``) when the service runs catalogs by name (``named``)."""

from __future__ import annotations

import logging
from typing import Any

from etl.db.tables import RUN_COUNTS
from etl.pipeline import SyncResult
from etl.times import iso

logger = logging.getLogger("etl.serve")

_STATUS_LEVELS = {
    "succeeded": logging.INFO,
    "skipped": logging.INFO,
    "held": logging.WARNING,
    "failed": logging.ERROR,
}
_RESULT_FIELDS = (
    "run_id",
    "status",
    "source",
    "http_status",
    "attempts",
    "bytes",
    "payload_sha256",
    *RUN_COUNTS,
    "error",
    "retryable",
    "held_providers",
)


def log_result(result: SyncResult, duration: float, *, named: bool = False) -> None:
    """A recorded run: succeeded with its counts, or held, skipped or failed with the reason."""
    fields: dict[str, Any] = {"event": "sync", "catalog": result.catalog, "recorded": True}
    fields.update({name: getattr(result, name) for name in _RESULT_FIELDS})
    fields["observed_at"] = iso(result.observed_at) if result.observed_at else None
    fields["duration_seconds"] = round(duration, 3)
    fields["warnings"] = len(result.warnings)
    if result.status == "succeeded":
        message = (
            f"run {result.run_id} succeeded in {duration:.2f} s: {result.models_seen}"
            f" models seen, {result.added} added, {result.removed} removed,"
            f" {result.returned} returned; {result.versions_written} versions and"
            f" {result.price_changes} price changes written"
        )
        if result.warnings:
            message += f"; {len(result.warnings)} warnings (see catalog-etl runs)"
        if result.held_providers:
            message += "; " + "; ".join(result.held_providers.values())
    else:
        message = f"run {result.run_id} {result.status} in {duration:.2f} s: {result.error}"
        if result.status == "failed":
            message += "; next tick tries again" if result.retryable else ""
    level = _STATUS_LEVELS[result.status]
    if result.held_providers:
        level = max(level, logging.WARNING)
    prefix = f"{result.catalog}: " if named else ""
    logger.log(level, "%s%s", prefix, message, extra={"fields": fields})


def log_unrecorded(error: str, duration: float, *, catalog: str, named: bool = False) -> None:
    """A tick that failed before its run could be recorded (the database is down)."""
    logger.error(
        "%ssync failed in %.2f s and could not be recorded: %s; serve keeps running",
        f"{catalog}: " if named else "",
        duration,
        error,
        extra={
            "fields": {
                "event": "sync",
                "catalog": catalog,
                "recorded": False,
                "run_id": None,
                "status": "failed",
                "error": error,
                "duration_seconds": round(duration, 3),
            }
        },
    )
