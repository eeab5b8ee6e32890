"""Sync runs as operators read them: the newest ones, and one run in full."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from etl.db.tables import RUN_COUNTS, sync_runs_table
from etl.read.catalogs import CatalogScope, catalog_scope
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


def runs_report(
    connection: Connection, limit: int, catalogs: CatalogScope | None = None
) -> dict[str, Any]:
    """The newest ``limit`` runs of the catalogs read (all when None), newest first; each
    names its catalog when they are several."""
    scope = catalogs or catalog_scope(connection)
    query = (
        select(sync_runs_table.c.catalog_id, *(sync_runs_table.c[name] for name in RUN_FIELDS))
        .order_by(sync_runs_table.c.started_at.desc(), sync_runs_table.c.id.desc())
        .limit(limit)
    )
    rows = connection.execute(scope.where_catalog(query, sync_runs_table.c.catalog_id))
    runs = [_named_run(scope, dict(row), scope.named) for row in rows.mappings()]
    return ({"catalogs": list(scope.shown)} if scope.shown else {}) | {"runs": runs}


def run_detail(
    connection: Connection, run_id: int, catalogs: CatalogScope | None = None
) -> dict[str, Any]:
    """Everything recorded about one run: its error and warnings in full, the providers
    its catalog spoke for, what the mass-removal guard held; :class:`RunNotFound` when it
    is not a run of the catalogs read."""
    scope = catalogs or catalog_scope(connection)
    row = (
        connection.execute(
            select(
                sync_runs_table.c.catalog_id,
                *(sync_runs_table.c[name] for name in DETAIL_FIELDS),
            ).where(sync_runs_table.c.id == run_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise RunNotFound(f"no run {run_id}: `catalog-etl runs` lists them")
    if scope.ids is not None and row["catalog_id"] not in scope.ids:
        raise RunNotFound(
            f"run {run_id} is a run of catalog {scope.known[row['catalog_id']]!r},"
            f" not of {', '.join(map(repr, scope.shown))}"
        )
    return _named_run(scope, dict(row), bool(scope.shown))


def _named_run(scope: CatalogScope, row: dict[str, Any], name: bool) -> dict[str, Any]:
    """A run's row as JSON shows it, starting with its catalog's name when ``name``."""
    catalog = scope.known[row.pop("catalog_id")]
    return ({"catalog": catalog} if name else {}) | run_json(row)


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
