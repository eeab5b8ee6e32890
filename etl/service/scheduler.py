"""``catalog-etl serve``: sync one catalog, or several, each on its own schedule (APScheduler
3), safely, for as long as it runs.

Each catalog is one APScheduler job (:mod:`etl.service.job`, where each of its settings is
explained) run by its :class:`~etl.service.runner.CatalogRunner` in a worker thread of its
own: one catalog's slow or failing upstream never delays another's ticks.

``--every`` ticks fall on multiples of the interval since the Unix epoch (1h: at every full
hour UTC; 15m: at :00, :15, :30, :45), so replicas with the same schedule tick together and
each catalog's tick is claimed in the database before anything is fetched: exactly one
replica fetches and applies it, the others record a ``skipped`` run. ``--run-now`` adds a run
at start (claiming no tick) without shifting that alignment. ``--cron`` is standard 5-field
cron (0 or 7 is Sunday; a restricted day of month and day of week match either), in
``--timezone``.

Stopping (SIGTERM, SIGINT, :meth:`Service.request_stop`): no new tick starts; a fetch waiting
to retry gives up at once (its run recorded ``failed``); running syncs may finish within the
grace period. Past it (or on a second signal) their transactions are rolled back at their
next statement and their runs recorded ``failed``; a sync stuck in network I/O even then is
abandoned :data:`HARD_STOP_SECONDS` later by exiting, which the database answers by rolling
back whatever was open; its run is marked ``failed``.

A running service records itself in ``services``: host, pid, schedule (every catalog's), a
heartbeat every :data:`~etl.service.status.HEARTBEAT_SECONDS` and after every sync, the next
run of any catalog, and the time it stopped. ``catalog-etl status`` reads it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from etl.db.engine import display_url
from etl.service.config import DEFAULT_GRACE_PERIOD as DEFAULT_GRACE_PERIOD
from etl.service.config import CatalogJob as CatalogJob
from etl.service.config import ServiceConfig as ServiceConfig
from etl.service.config import SyncJob as SyncJob
from etl.service.engines import prepare_schema, service_engine
from etl.service.job import JOB_ID, Job, build_jobs, job_id
from etl.service.metrics import Metrics
from etl.service.notifier import Notifier
from etl.service.registration import Registration
from etl.service.runner import CatalogRunner, Shared
from etl.times import iso

logger = logging.getLogger("etl.serve")

HARD_STOP_SECONDS = 10.0
"""After the grace period, how long a sync gets to roll back before the process exits."""
IDLE_POLL_SECONDS = 0.2
"""While stopping, how often the grace period checks for a second signal."""


class Service:
    """One ``catalog-etl serve`` process: :meth:`run` blocks until stopped, then returns 0."""

    def __init__(
        self, config: ServiceConfig, *, hard_exit: Callable[[int], Any] = os._exit
    ) -> None:
        self.config = config
        self._hard_exit = hard_exit
        self._shared = Shared(
            config.database_url, config.grace_period, config.named, metrics=config.metrics
        )
        self.runners = [CatalogRunner(entry, self._shared) for entry in config.jobs]
        self._job_ids = {
            (job_id(runner.name) if config.named else JOB_ID): runner for runner in self.runners
        }
        self._scheduler: Any = None
        self._control: Engine | None = None
        self._registration: Registration | None = None

    # Stopping ------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop as SIGTERM does; a second call stops the running syncs (rolled back)."""
        if self._shared.stopping.is_set():
            self._shared.interrupt.set()
        self._shared.stopping.set()
        self._shared.wake.set()

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        # Only flags here: logging from a signal handler can interleave with a log line the
        # main thread was writing.
        self._shared.signals.append(signal.Signals(number).name)
        self.request_stop()

    # Running -------------------------------------------------------------------------

    def run(self, *, handle_signals: bool = True) -> int:
        """Serve until stopped. Raises for what a restart cannot fix (an old schema, a port
        in use); waits, logging, while the database cannot be reached at start."""
        # Heartbeats and the start-up check: a new connection each time, never a stale one.
        self._control = service_engine(self.config.database_url, poolclass=NullPool)
        self._registration = Registration(self._control, self.config.schedule_text)
        previous = {}
        if handle_signals:
            for number in (signal.SIGTERM, signal.SIGINT):
                previous[number] = signal.signal(number, self._on_signal)
        stop_metrics: Callable[[], None] | None = None
        notifier: Notifier | None = None
        try:
            if self.config.metrics_port is not None:
                metrics = self.config.metrics or Metrics(catalogs=self._metric_catalogs())
                self.config.metrics = self._shared.metrics = metrics
                stop_metrics = metrics.serve(self.config.metrics_port, self.config.metrics_address)
            stopping = self._shared.stopping
            if not prepare_schema(self._control, migrate=self.config.migrate, stopping=stopping):
                self._log_stop()
                return 0
            if self.config.subscriptions:
                notifier = Notifier(
                    self.config.database_url,
                    self.config.subscriptions,
                    self.config.heartbeat_interval,
                )
                self._shared.notifier = notifier
                notifier.start()
            self._start_scheduler()
            while not stopping.is_set():
                self._shared.wake.wait(self.config.heartbeat_interval)
                self._shared.wake.clear()
                if not stopping.is_set():
                    self._heartbeat()
            self._stop_scheduler()
            return 0
        finally:
            if notifier is not None:
                notifier.stop(HARD_STOP_SECONDS)
            if stop_metrics is not None:
                stop_metrics()
            self._control.dispose()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _metric_catalogs(self) -> list[str]:
        return [runner.name for runner in self.runners] if self.config.named else []

    def _start_scheduler(self) -> None:
        jobs = [Job(id_, runner.schedule, runner.tick) for id_, runner in self._job_ids.items()]
        scheduler = build_jobs(jobs, run_now=self.config.run_now, on_submit=self._submitted)
        if self.config.run_now:
            for id_, runner in self._job_ids.items():
                runner.run_now_at = scheduler.get_job(id_).next_run_time
        # Paused until the service is recorded, so that even a first run at once (--run-now)
        # comes after the services row, and the row has the next run time.
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._heartbeat()
        scheduler.resume()
        self._log_started()

    def _submitted(self, job: str, fired: datetime) -> None:
        self._job_ids[job].submitted(fired)

    def _log_started(self) -> None:
        database = display_url(self.config.database_url)
        catalogs = [
            {
                "catalog": runner.name,
                "schedule": runner.schedule.description,
                "misfire_grace_time": runner.schedule.misfire_grace_time,
                "source": runner.job.shown_url,
                "next_run_at": self._when(self._next_run_of(id_)),
            }
            for id_, runner in self._job_ids.items()
        ]
        fields: dict[str, Any] = {"event": "started", "schedule": self.config.schedule_text}
        if self.config.named:
            message = f"serving {len(catalogs)} catalogs into {database}: " + "; ".join(
                f"{c['catalog']} {c['schedule']} from {c['source']}, next run at"
                f" {c['next_run_at'] or 'never'}"
                for c in catalogs
            )
            fields["catalogs"] = catalogs
        else:
            (only,) = catalogs
            message = (
                f"serving {only['schedule']} (misfire grace {only['misfire_grace_time']} s):"
                f" {only['source']} into {database}; next run at {only['next_run_at'] or 'never'}"
            )
            fields.update(only)
        fields.update(
            database=database,
            next_run_at=self._when(self._next_run_at()),
            hostname=socket.gethostname(),
            pid=os.getpid(),
        )
        logger.info("%s", message, extra={"fields": fields})

    def _stop_scheduler(self) -> None:
        self._scheduler.shutdown(wait=False)  # no new tick; running ones go on
        busy = self._busy()
        if busy:
            grace = self.config.grace_period
            what, verb = self._running(busy)
            logger.info(
                "%s: stopping; %s %s %g s to finish",
                self._shared.reason(),
                what,
                verb,
                grace,
                extra={"fields": {"event": "stopping", "grace_period": grace}},
            )
            deadline = time.monotonic() + grace
            while not self._shared.interrupt.is_set() and time.monotonic() < deadline:
                if self._wait_idle(min(IDLE_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
                    break
            if self._busy():
                self._interrupt()
                return
        self._unregister()
        self._log_stop()

    def _interrupt(self) -> None:
        """Past the grace period: roll the running syncs back; exit without those that do
        not stop within :data:`HARD_STOP_SECONDS`."""
        self._shared.interrupt.set()
        logger.warning(
            "rolling back %s (%s)",
            self._running(self._busy())[0],
            "second signal" if self._shared.signals[1:] else "grace period over",
            extra={"fields": {"event": "interrupting"}},
        )
        if self._wait_idle(HARD_STOP_SECONDS):
            self._unregister()
            self._log_stop()
            return
        logger.error(
            "the sync did not stop within %g s; exiting without it: the database rolls back"
            " its open transaction, its run is marked failed",
            HARD_STOP_SECONDS,
            extra={"fields": {"event": "abandoned"}},
        )
        for runner in self._busy():
            runner.abandon_current_run()
        self._unregister()
        logging.shutdown()
        self._hard_exit(0)

    def _busy(self) -> list[CatalogRunner]:
        return [runner for runner in self.runners if not runner.idle.is_set()]

    def _wait_idle(self, timeout: float) -> bool:
        """Whether every catalog's tick is over within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        return all(
            runner.idle.wait(max(0.0, deadline - time.monotonic())) for runner in self.runners
        )

    def _running(self, busy: list[CatalogRunner]) -> tuple[str, str]:
        """The running syncs, for a log line, and the verb that agrees with them."""
        if not self.config.named:
            return "the running sync", "has"
        names = ", ".join(runner.name for runner in busy)
        if len(busy) == 1:
            return f"the running sync of {names}", "has"
        return f"the running syncs of {names}", "have"

    def _log_stop(self) -> None:
        logger.info("%s: stopped", self._shared.reason(), extra={"fields": {"event": "stopped"}})

    # The services row ----------------------------------------------------------------

    def _next_run_of(self, job: str) -> datetime | None:
        found = self._scheduler.get_job(job) if self._scheduler is not None else None
        moment: datetime | None = found.next_run_time if found is not None else None
        return moment.astimezone(UTC) if moment is not None else None

    def _next_run_at(self) -> datetime | None:
        """The next run of any catalog."""
        upcoming = [moment for job in self._job_ids if (moment := self._next_run_of(job))]
        return min(upcoming, default=None)

    @staticmethod
    def _when(moment: datetime | None) -> str | None:
        return iso(moment) if moment is not None else None

    def _heartbeat(self) -> None:
        """Record that this service is alive and when it runs next; refresh the metrics."""
        assert self._control is not None and self._registration is not None
        if self._control.dialect.name == "sqlite" and any(
            runner.writing.is_set() for runner in self.runners
        ):
            return  # it would wait for our own sync's write lock; the sync wakes one when done
        self._registration.beat(self._next_run_at(), self._shared.metrics)

    def _unregister(self) -> None:
        assert self._registration is not None
        self._registration.unregister()
