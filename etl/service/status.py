"""Health of a catalog-etl database, for operators: read-only.

The last run and the last successful run, the models available now, and the services
(``catalog-etl serve`` processes) that recorded a heartbeat, with their next scheduled run.
It says whether all is well, the question a container health check or a monitoring probe
asks: a recent enough success (with a maximum age), no streak of failed runs, and no
provider that lost its configuration (an InsForge gateway whose key was revoked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select

from etl.config import DEFAULT_MAX_FAILURES
from etl.db.tables import (
    RUN_COUNTS,
    models_table,
    provider_states_table,
    providers_table,
    services_table,
    sync_runs_table,
)
from etl.read.catalogs import CatalogScope, catalog_scope
from etl.read.runs import run_json
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


Catalogs = Sequence[int] | None
"""The catalogs a figure covers, by id; None: every catalog."""


def _in(column: Any, catalogs: Catalogs) -> tuple[ColumnElement[bool], ...]:
    """The condition keeping rows to ``catalogs`` (``column`` holds a catalog id)."""
    return () if catalogs is None else (column.in_(catalogs),)


def _run(
    connection: Connection, scope: CatalogScope, catalogs: Catalogs, *, succeeded: bool
) -> dict[str, Any] | None:
    """The run of ``catalogs`` started last, whatever its status (``running`` included);
    with ``succeeded``, the successful run committed last (its ``finished_at`` is when its
    data appeared). It names its catalog when catalogs are named."""
    runs = sync_runs_table.c
    query = select(runs.catalog_id, *_RUN_COLUMNS).where(*_in(runs.catalog_id, catalogs))
    if succeeded:
        query = query.where(runs.status == "succeeded")
    latest = runs.finished_at if succeeded else runs.started_at
    query = query.order_by(latest.desc(), runs.id.desc()).limit(1)
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    run = dict(row)
    catalog = scope.label(run.pop("catalog_id"))
    return ({"catalog": catalog} if catalog else {}) | run_json(run)


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


def _failure_streak(connection: Connection, catalogs: Catalogs) -> dict[str, Any] | None:
    """The runs of ``catalogs`` (one, or every catalog when None) that failed since the
    last one that applied (succeeded or held): how many, since when, and the latest error
    in full; None when the last one applied."""
    runs = sync_runs_table.c
    own = _in(runs.catalog_id, catalogs)
    applied = (
        select(func.max(runs.started_at))
        .where(runs.status.in_(("succeeded", "held")), *own)
        .scalar_subquery()
    )
    since_applied = (
        runs.status == "failed",
        or_(applied.is_(None), runs.started_at > applied),
        *own,
    )
    count, first, last = connection.execute(
        select(func.count(), func.min(runs.started_at), func.max(runs.started_at)).where(
            *since_applied
        )
    ).one()
    if not count:
        return None
    latest = connection.execute(
        select(runs.id, runs.error)
        .where(*since_applied)
        .order_by(runs.started_at.desc(), runs.id.desc())
        .limit(1)
    ).one()
    return {
        "count": count,
        "since": iso(first),
        "last_at": iso(last),
        "last_run_id": latest.id,
        "error": latest.error,
    }


def _providers(
    connection: Connection, scope: CatalogScope, catalogs: Catalogs
) -> list[dict[str, Any]]:
    """Each provider's ``configured`` flag now, since when, and whether it ever said it was
    configured (a gateway that lost its key, rather than one that never had one)."""
    states = provider_states_table.c
    ever = select(states.provider_id).where(states.configured).distinct()
    rows = connection.execute(
        select(
            providers_table.c.catalog_id,
            providers_table.c.name,
            states.configured,
            states.valid_from,
            states.provider_id.in_(ever).label("was_configured"),
        )
        .join(providers_table, providers_table.c.id == states.provider_id)
        .where(states.valid_to.is_(None), *_in(providers_table.c.catalog_id, catalogs))
        .order_by(providers_table.c.name, providers_table.c.catalog_id)
    )
    return [
        ({"catalog": scope.known[row.catalog_id]} if scope.named else {})
        | {
            "name": row.name,
            "configured": row.configured,
            "since": iso(row.valid_from),
            "was_configured": bool(row.was_configured),
        }
        for row in rows
    ]


def last_success_at(connection: Connection, catalogs: Catalogs = None) -> datetime | None:
    """When the latest successful sync (of ``catalogs``; of any when None) finished
    (committed), by any process."""
    runs = sync_runs_table.c
    finished: datetime | None = connection.execute(
        select(func.max(runs.finished_at)).where(
            runs.status == "succeeded", *_in(runs.catalog_id, catalogs)
        )
    ).scalar_one()
    return finished


def models_available(connection: Connection, catalogs: Catalogs = None) -> int:
    """Models (of ``catalogs``; all when None) listed by their provider in the latest
    catalog that named it."""
    query = select(func.count()).select_from(models_table).where(models_table.c.available)
    if catalogs is not None:
        query = query.where(
            models_table.c.provider_id.in_(
                select(providers_table.c.id).where(providers_table.c.catalog_id.in_(catalogs))
            )
        )
    count: int = connection.execute(query).scalar_one()
    return count


@dataclass(frozen=True)
class Limits:
    """When a catalog is unhealthy (see :func:`status_report`)."""

    max_age: timedelta | None
    max_failures: int | None
    max_unconfigured: timedelta | None
    now: datetime


def _health(
    connection: Connection, scope: CatalogScope, catalogs: Catalogs, limits: Limits
) -> dict[str, Any]:
    """The health of ``catalogs`` taken together (every catalog when None): its runs,
    providers and models, and what is wrong. A failure streak is one catalog's (or the
    only one's): the caller picks among several."""
    last_success = _run(connection, scope, catalogs, succeeded=True)
    finished = last_success["finished_at"] if last_success else None
    age = (limits.now - parse_time(finished)).total_seconds() if finished else None
    one = catalogs is None or len(catalogs) == 1
    failing = _failure_streak(connection, catalogs) if one else None
    providers = _providers(connection, scope, catalogs)
    problems = _recent_success_problems(age, limits.max_age)
    if failing and limits.max_failures is not None and failing["count"] >= limits.max_failures:
        problems.append(
            f"{failing['count']} runs failed in a row since {failing['since']}; the last one"
            f" (run {failing['last_run_id']}): {failing['error']}"
        )
    unconfigured = limits.max_unconfigured
    problems += _unconfigured_problems(
        providers, limits.max_age if unconfigured is None else unconfigured, limits.now
    )
    return {
        "last_run": _run(connection, scope, catalogs, succeeded=False),
        "last_success": last_success,
        "last_success_age_seconds": round(age, 3) if age is not None else None,
        "failing": failing,
        "providers": providers,
        "models_available": models_available(connection, catalogs),
        "healthy": not problems,
        "problems": problems,
    }


def status_report(
    connection: Connection,
    *,
    max_age: timedelta | None = None,
    max_failures: int | None = DEFAULT_MAX_FAILURES,
    max_unconfigured: timedelta | None = None,
    now: datetime | None = None,
    catalogs: CatalogScope | None = None,
) -> dict[str, Any]:
    """The document behind ``catalog-etl status``, for the catalogs read (all when None).

    A catalog is unhealthy, with the reasons in ``problems``, when: ``max_age`` is given and
    none of its syncs has succeeded within it; ``max_failures`` of its runs or more failed
    in a row; a provider of it that was configured has said it is not for longer than
    ``max_unconfigured`` (by default ``max_age``). ``next_run_at`` is the earliest next run
    among services whose heartbeat is fresh.

    A database of one catalog gets one verdict. Otherwise, and whenever catalogs are asked
    for, ``catalogs`` holds each one's health and every problem names its catalog; the last
    run and success at the top are the latest of any of them, ``failing`` the longest
    streak, the providers and models those of all of them.
    """
    limits = Limits(max_age, max_failures, max_unconfigured, now or utcnow())
    scope = catalogs or catalog_scope(connection)
    services = _services(connection, limits.now)
    upcoming = [s["next_run_at"] for s in services if not s["stale"] and s["next_run_at"]]
    for service in services:
        service["next_run_at"] = iso(service["next_run_at"]) if service["next_run_at"] else None
    ids = scope.shown_ids() if scope.shown else None
    overall = _health(connection, scope, ids, limits)
    each = [
        {"name": name} | _health(connection, scope, [catalog], limits)
        for name, catalog in zip(scope.shown, ids or (), strict=True)
    ]
    if each:
        overall["problems"] = [f"catalog {c['name']}: {p}" for c in each for p in c["problems"]]
        streaks = [{"catalog": c["name"]} | c["failing"] for c in each if c["failing"]]
        overall["failing"] = max(streaks, key=lambda streak: streak["count"], default=None)
    problems = overall.pop("problems")
    del overall["healthy"]
    return {
        "now": iso(limits.now),
        **overall,
        "next_run_at": iso(min(upcoming)) if upcoming else None,
        "services": services,
        "max_age_seconds": max_age.total_seconds() if max_age is not None else None,
        "healthy": not problems,
        "problems": problems,
        "problem": problems[0] if problems else None,
        **({"catalogs": each} if each else {}),
    }


def _recent_success_problems(age: float | None, max_age: timedelta | None) -> list[str]:
    if max_age is None:
        return []
    if age is None:
        return ["no sync has succeeded yet"]
    if age > max_age.total_seconds():
        return [
            f"the last successful sync finished {describe_age(age)} ago, more than the"
            f" maximum age of {describe_age(max_age.total_seconds())}"
        ]
    return []


def _unconfigured_problems(
    providers: list[dict[str, Any]], limit: timedelta | None, now: datetime
) -> list[str]:
    """Providers that were configured and have said they are not for longer than ``limit``;
    each provider's ``unconfigured_seconds`` is filled in on the way."""
    problems = []
    for provider in providers:
        provider["unconfigured_seconds"] = None
        if provider["configured"] or not provider["was_configured"]:
            continue
        unconfigured = (now - parse_time(provider["since"])).total_seconds()
        provider["unconfigured_seconds"] = round(unconfigured, 3)
        if limit is not None and unconfigured > limit.total_seconds():
            problems.append(
                f"provider {provider['name']} has said it is not configured since"
                f" {provider['since']} ({describe_age(unconfigured)}), longer than"
                f" {describe_age(limit.total_seconds())}: has the gateway lost its key?"
            )
    return problems


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
