"""Health of a catalog-etl database, for operators: read-only.

The last run and the last successful run, the models available now, and the services
(``catalog-etl serve`` processes) that recorded a heartbeat, with their next scheduled run.
With a maximum age, the report also says whether the last success is recent enough: the
question a container health check or a monitoring probe asks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from etl.db.tables import RUN_COUNTS, models_table, services_table, sync_runs_table
from etl.times import iso, parse_time, utcnow

HEARTBEAT_SECONDS = 30.0
"""How often a running ``serve`` writes its heartbeat (and after every sync)."""
STALE_AFTER = timedelta(seconds=10 * HEARTBEAT_SECONDS)
"""A service whose heartbeat is older than this is reported stale (killed, or cut off)."""
FORGET_AFTER = timedelta(days=1)
"""A service silent for longer is no longer listed: it was killed without a chance to say so
(restarted containers would otherwise pile up as stale for good)."""
MAX_SERVICES = 10

RUN_FIELDS = (
    "id",
    "status",
    "observed_at",
    "started_at",
    "finished_at",
    "source",
    *RUN_COUNTS,
    "error",
)
_RUN_COLUMNS = tuple(sync_runs_table.c[name] for name in RUN_FIELDS)


def _last_run(connection: Connection) -> dict[str, Any] | None:
    """The run started last, whatever its status (``running`` included)."""
    row = (
        connection.execute(
            select(*_RUN_COLUMNS)
            .order_by(sync_runs_table.c.started_at.desc(), sync_runs_table.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return _run_json(dict(row)) if row is not None else None


def _last_success(connection: Connection) -> dict[str, Any] | None:
    """The successful run committed last: its ``finished_at`` is when its data appeared."""
    row = (
        connection.execute(
            select(*_RUN_COLUMNS)
            .where(sync_runs_table.c.status == "succeeded")
            .order_by(sync_runs_table.c.finished_at.desc(), sync_runs_table.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return _run_json(dict(row)) if row is not None else None


def _run_json(run: dict[str, Any]) -> dict[str, Any]:
    started, finished = run["started_at"], run["finished_at"]
    run["duration_seconds"] = (
        round((finished - started).total_seconds(), 3) if finished is not None else None
    )
    for name in ("observed_at", "started_at", "finished_at"):
        run[name] = iso(run[name]) if run[name] else None
    return run


def _services(connection: Connection, now: datetime) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(
            services_table.c.hostname,
            services_table.c.pid,
            services_table.c.schedule,
            services_table.c.started_at,
            services_table.c.heartbeat_at,
            services_table.c.next_run_at,
        )
        .where(
            services_table.c.stopped_at.is_(None),
            services_table.c.heartbeat_at > now - FORGET_AFTER,
        )
        .order_by(services_table.c.heartbeat_at.desc(), services_table.c.id.desc())
        .limit(MAX_SERVICES)
    )
    return [
        {
            "hostname": service.hostname,
            "pid": service.pid,
            "schedule": service.schedule,
            "started_at": iso(service.started_at),
            "heartbeat_at": iso(service.heartbeat_at),
            "next_run_at": service.next_run_at,
            "stale": now - service.heartbeat_at > STALE_AFTER,
        }
        for service in rows
    ]


def last_success_at(connection: Connection) -> datetime | None:
    """When the latest successful sync finished (committed), by any process."""
    finished: datetime | None = connection.execute(
        select(func.max(sync_runs_table.c.finished_at)).where(
            sync_runs_table.c.status == "succeeded"
        )
    ).scalar_one()
    return finished


def models_available(connection: Connection) -> int:
    """Models listed by their provider in the latest catalog that named it."""
    count: int = connection.execute(
        select(func.count()).select_from(models_table).where(models_table.c.available)
    ).scalar_one()
    return count


def status_report(
    connection: Connection, *, max_age: timedelta | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The document behind ``catalog-etl status``.

    ``healthy`` is False, with the reason in ``problem``, when ``max_age`` is given and no
    sync has succeeded within it. ``next_run_at`` is the earliest next run among services
    whose heartbeat is fresh.
    """
    now = now or utcnow()
    last_success = _last_success(connection)
    services = _services(connection, now)
    upcoming = [s["next_run_at"] for s in services if not s["stale"] and s["next_run_at"]]
    for service in services:
        service["next_run_at"] = iso(service["next_run_at"]) if service["next_run_at"] else None
    finished = last_success["finished_at"] if last_success else None
    age = (now - parse_time(finished)).total_seconds() if finished else None
    problem = None
    if max_age is not None:
        if age is None:
            problem = "no sync has succeeded yet"
        elif age > max_age.total_seconds():
            problem = (
                f"the last successful sync finished {describe_age(age)} ago, more than the"
                f" maximum age of {describe_age(max_age.total_seconds())}"
            )
    return {
        "now": iso(now),
        "last_run": _last_run(connection),
        "last_success": last_success,
        "last_success_age_seconds": round(age, 3) if age is not None else None,
        "models_available": models_available(connection),
        "next_run_at": iso(min(upcoming)) if upcoming else None,
        "services": services,
        "max_age_seconds": max_age.total_seconds() if max_age is not None else None,
        "healthy": problem is None,
        "problem": problem,
    }


def describe_age(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 5m``, ``2d 4h``: an age rounded down, for people."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"
