"""A running service's row in ``services``: recorded at start, a heartbeat with the next run
time every :data:`~etl.service.status.HEARTBEAT_SECONDS`, and the time it stopped."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import SQLAlchemyError

from etl.db.engine import describe_error
from etl.db.tables import services_table
from etl.service.database_facts import observe_database
from etl.service.metrics import Metrics
from etl.times import utcnow

logger = logging.getLogger("etl.serve")

HEARTBEAT_BUSY_TIMEOUT_MS = 2000
"""On SQLite, how long the heartbeat waits for a write lock held by a sync (it runs on the main
thread, which must stay free to react to signals)."""


class Registration:
    """This process's ``services`` row, written through ``engine`` (the service's control
    engine). A database that cannot be written is logged once, not raised."""

    def __init__(self, engine: Engine, schedule: str) -> None:
        self._engine = engine
        self._schedule = schedule
        self._service_id: int | None = None
        self._failing = False

    def beat(self, next_run_at: datetime | None, metrics: Metrics | None) -> None:
        """Record that this service is alive and when it runs next; refresh the metrics
        that come from the database."""
        now = utcnow()
        values = {"heartbeat_at": now, "next_run_at": next_run_at}
        service_id = self._service_id
        try:
            with self._engine.begin() as connection:
                if connection.dialect.name == "sqlite":
                    connection.exec_driver_sql(f"PRAGMA busy_timeout = {HEARTBEAT_BUSY_TIMEOUT_MS}")
                if service_id is None:
                    service_id = connection.execute(
                        insert(services_table)
                        .values(
                            hostname=socket.gethostname()[:255],
                            pid=os.getpid(),
                            schedule=self._schedule,
                            started_at=now,
                            **values,
                        )
                        .returning(services_table.c.id)
                    ).scalar_one()
                else:
                    connection.execute(
                        update(services_table)
                        .where(services_table.c.id == service_id)
                        .values(**values)
                    )
                if metrics is not None:
                    observe_database(connection, metrics)
        except SQLAlchemyError as error:
            if not self._failing:
                logger.warning(
                    "cannot record the heartbeat: %s",
                    describe_error(error),
                    extra={"fields": {"event": "heartbeat_failed"}},
                )
            self._failing = True
        else:
            self._service_id = service_id
            if self._failing:
                logger.info("heartbeat recorded again", extra={"fields": {"event": "heartbeat_ok"}})
            self._failing = False

    def unregister(self) -> None:
        """Record that the service stopped (nothing to do if it was never recorded)."""
        if self._service_id is None:
            return
        now = utcnow()
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    update(services_table)
                    .where(services_table.c.id == self._service_id)
                    .values(stopped_at=now, heartbeat_at=now, next_run_at=None)
                )
        except SQLAlchemyError as error:
            logger.warning(
                "cannot record that serve stopped: %s",
                describe_error(error),
                extra={"fields": {"event": "heartbeat_failed"}},
            )
