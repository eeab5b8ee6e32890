"""Sync runs as operators read them: the newest ones, and one run in full."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from etl.db.tables import RUN_COUNTS, sync_runs_table
from etl.times import iso

RUN_FIELDS = (
    "id",
    "status",
    "observed_at",
    "started_at",
    "finished_at",
    "source",
    "shape",
    "http_status",
    "attempts",
    "bytes",
    "payload_sha256",
    *RUN_COUNTS,
    "warnings",
    "error",
)
DETAIL_FIELDS = (*RUN_FIELDS, "default_provider", "providers", "held_providers", "tick_at")


class RunNotFound(LookupError):
    """No run has that id."""


def runs_report(connection: Connection, limit: int) -> dict[str, Any]:
    """The newest ``limit`` runs, newest first."""
    rows = connection.execute(
        select(*(sync_runs_table.c[name] for name in RUN_FIELDS))
        .order_by(sync_runs_table.c.started_at.desc(), sync_runs_table.c.id.desc())
        .limit(limit)
    ).mappings()
    return {"runs": [run_json(dict(row)) for row in rows]}


def run_detail(connection: Connection, run_id: int) -> dict[str, Any]:
    """Everything recorded about one run: its error and warnings in full, the providers
    its catalog spoke for, what the mass-removal guard held."""
    row = (
        connection.execute(
            select(*(sync_runs_table.c[name] for name in DETAIL_FIELDS)).where(
                sync_runs_table.c.id == run_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise RunNotFound(f"no run {run_id}: `catalog-etl runs` lists them")
    return run_json(dict(row))


def run_json(run: dict[str, Any]) -> dict[str, Any]:
    """A run's row as JSON shows it: its duration, and its times as ISO 8601 text."""
    finished, started = run["finished_at"], run["started_at"]
    run["duration_seconds"] = (
        round((finished - started).total_seconds(), 3) if finished is not None else None
    )
    for name in ("observed_at", "started_at", "finished_at", "tick_at"):
        if name in run:
            run[name] = iso(run[name]) if run[name] else None
    return run
