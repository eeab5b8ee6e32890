"""What the database says, for the metrics: when a sync last succeeded and how many models
are available, for the whole database or (a service of several catalogs) for each catalog."""

from __future__ import annotations

from sqlalchemy import Connection, select

from etl.db.tables import catalogs_table
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
    ids = dict(
        connection.execute(
            select(catalogs_table.c.name, catalogs_table.c.id).where(
                catalogs_table.c.name.in_(metrics.catalogs)
            )
        ).all()
    )
    for name in metrics.catalogs:
        # A catalog not synced yet has no row: no success, no models.
        catalog = [ids[name]] if name in ids else []
        success = last_success_at(connection, catalog) if catalog else None
        available = models_available(connection, catalog) if catalog else 0
        metrics.observe_database(success.timestamp() if success else None, available, catalog=name)
