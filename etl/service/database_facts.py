"""What the database says, for the metrics: when a sync last succeeded and how many models
are available, for the whole database or (a service of several catalogs) for each catalog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select

from etl.db.tables import catalogs_table, models_table, providers_table, sync_runs_table
from etl.service.metrics import Metrics
from etl.service.status import last_success_at, models_available


def observe_database(connection: Connection, metrics: Metrics) -> None:
    """Refresh the metrics that come from the database (by catalog when they are)."""
    if not metrics.catalogs:
        success = last_success_at(connection)
        metrics.observe_database(
            success.timestamp() if success else None, models_available(connection)
        )
        return
    successes = _last_successes(connection, metrics.catalogs)
    available = _models_available(connection, metrics.catalogs)
    for name in metrics.catalogs:
        success = successes.get(name)
        metrics.observe_database(
            success.timestamp() if success else None, available.get(name, 0), catalog=name
        )


def _last_successes(connection: Connection, names: Sequence[str]) -> dict[str, datetime]:
    """When each catalog's latest successful sync finished, by any process."""
    rows = connection.execute(
        select(catalogs_table.c.name, func.max(sync_runs_table.c.finished_at))
        .join(sync_runs_table, sync_runs_table.c.catalog_id == catalogs_table.c.id)
        .where(sync_runs_table.c.status == "succeeded", catalogs_table.c.name.in_(names))
        .group_by(catalogs_table.c.name)
    )
    return {name: finished for name, finished in rows if finished is not None}


def _models_available(connection: Connection, names: Sequence[str]) -> dict[str, int]:
    """Each catalog's models available now."""
    rows = connection.execute(
        select(catalogs_table.c.name, func.count())
        .select_from(models_table)
        .join(providers_table, providers_table.c.id == models_table.c.provider_id)
        .join(catalogs_table, catalogs_table.c.id == providers_table.c.catalog_id)
        .where(models_table.c.available, catalogs_table.c.name.in_(names))
        .group_by(catalogs_table.c.name)
    )
    return {name: count for name, count in rows}
