"""``catalog-etl serve``: sync on a schedule (APScheduler 3), safely, for as long as it runs.

The schedule is one APScheduler job (:mod:`etl.service.job`, where each of its settings is
explained).

``--every`` ticks fall on multiples of the interval since the Unix epoch (1h: at every full
hour UTC; 15m: at :00, :15, :30, :45), so replicas with the same schedule tick together and
each tick is claimed in the database before anything is fetched: exactly one replica
fetches and applies it, the others record a ``skipped`` run. ``--run-now`` adds a run at
start (claiming no tick) without shifting that alignment. ``--cron`` is standard 5-field
cron (0 or 7 is Sunday; a restricted day of month and day of week match either), in
``--timezone``.

Every tick uses a fresh engine, disposed afterwards, so a database that went away and came
back costs one failed tick and nothing else. A tick that cannot even record its run (the
database is down) is logged, not raised: the service keeps its schedule.

Stopping (SIGTERM, SIGINT, :meth:`Service.request_stop`): no new tick starts; a fetch waiting
to retry gives up at once (its run recorded ``failed``); a running sync may finish within the
grace period. Past it (or on a second signal) the sync's transaction
is rolled back at its next statement and its run recorded ``failed``; a sync stuck in
network I/O even then is abandoned :data:`HARD_STOP_SECONDS` later by exiting, which the
database answers by rolling back whatever was open; its run is marked ``failed``.

A running service records itself in ``services``: host, pid, schedule, a heartbeat every
:data:`~etl.service.status.HEARTBEAT_SECONDS` and after every sync, the next run, and the time it
stopped. ``catalog-etl status`` reads it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from etl.db.engine import describe_error, display_url
from etl.errors import DatabaseUnavailable
from etl.pipeline import SyncResult, abandon_run, sync_url
from etl.service.config import DEFAULT_GRACE_PERIOD as DEFAULT_GRACE_PERIOD
from etl.service.config import ServiceConfig as ServiceConfig
from etl.service.config import SyncJob as SyncJob
from etl.service.engines import (
    SyncInterrupted,
    interruptible,
    prepare_schema,
    service_engine,
)
from etl.service.job import JOB_ID, build_scheduler
from etl.service.metrics import Metrics
from etl.service.notifier import Notifier
from etl.service.outcomes import log_result, log_unrecorded
from etl.service.registration import Registration
from etl.store.migrate import schema_state
from etl.times import iso

logger = logging.getLogger("etl.serve")

CLAIMED_TICK_LOCK_WAIT = 60.0
"""Seconds a claimed tick waits for the sync lock (a cron sync, a backfill) before skipping."""
HARD_STOP_SECONDS = 10.0
"""After the grace period, how long a sync gets to roll back before the process exits."""


class Service:
    """One ``catalog-etl serve`` process: :meth:`run` blocks until stopped, then returns 0."""

    def __init__(
        self, config: ServiceConfig, *, hard_exit: Callable[[int], Any] = os._exit
    ) -> None:
        self.config = config
        self._hard_exit = hard_exit
        self._stopping = threading.Event()
        self._interrupt = threading.Event()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._signals: list[str] = []
        self._scheduler: Any = None
        self._current_run_id: int | None = None
        self._control: Engine | None = None
        self._registration: Registration | None = None
        self._run_now_at: datetime | None = None
        self._notifier: Notifier | None = None
        self._tick_at: datetime | None = None
        """The scheduled tick the next sync claims (None: it claims none)."""
        self.ticks = 0
        """Ticks that started a sync."""

    # Stopping ------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop as SIGTERM does; a second call stops the running sync (rolled back)."""
        if self._stopping.is_set():
            self._interrupt.set()
        self._stopping.set()
        self._wake.set()

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        # Only flags here: logging from a signal handler can interleave with a log line the
        # main thread was writing.
        self._signals.append(signal.Signals(number).name)
        self.request_stop()

    # Running -------------------------------------------------------------------------

    def run(self, *, handle_signals: bool = True) -> int:
        """Serve until stopped. Raises for what a restart cannot fix (an old schema, a port
        in use); waits, logging, while the database cannot be reached at start."""
        # Heartbeats and the start-up check: a new connection each time, never a stale one.
        self._control = service_engine(self.config.database_url, poolclass=NullPool)
        self._registration = Registration(self._control, self.config.schedule.description)
        previous = {}
        if handle_signals:
            for number in (signal.SIGTERM, signal.SIGINT):
                previous[number] = signal.signal(number, self._on_signal)
        stop_metrics: Callable[[], None] | None = None
        try:
            if self.config.metrics_port is not None:
                metrics = self.config.metrics or Metrics()
                self.config.metrics = metrics
                stop_metrics = metrics.serve(self.config.metrics_port, self.config.metrics_address)
            if not prepare_schema(
                self._control, migrate=self.config.migrate, stopping=self._stopping
            ):
                self._log_stop()
                return 0
            if self.config.job.subscriptions:
                self._notifier = Notifier(
                    self.config.database_url,
                    self.config.job.subscriptions,
                    self.config.heartbeat_interval,
                )
                self._notifier.start()
            self._start_scheduler()
            while not self._stopping.is_set():
                self._wake.wait(self.config.heartbeat_interval)
                self._wake.clear()
                if not self._stopping.is_set():
                    self._heartbeat()
            self._stop_scheduler()
            return 0
        finally:
            if self._notifier is not None:
                self._notifier.stop(HARD_STOP_SECONDS)
            if stop_metrics is not None:
                stop_metrics()
            self._control.dispose()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _start_scheduler(self) -> None:
        schedule = self.config.schedule
        scheduler = build_scheduler(
            schedule, self.tick, run_now=self.config.run_now, on_submit=self._submitted
        )
        if self.config.run_now:
            self._run_now_at = scheduler.get_job(JOB_ID).next_run_time
        # Paused until the service is recorded, so that even a first run at once (--run-now)
        # comes after the services row, and the row has the next run time.
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._heartbeat()
        scheduler.resume()
        next_run = self._next_run_at()
        logger.info(
            "serving %s (misfire grace %s s): %s into %s; next run at %s",
            schedule.description,
            schedule.misfire_grace_time,
            self.config.job.shown_url,
            display_url(self.config.database_url),
            iso(next_run) if next_run else "never",
            extra={
                "fields": {
                    "event": "started",
                    "schedule": schedule.description,
                    "misfire_grace_time": schedule.misfire_grace_time,
                    "source": self.config.job.shown_url,
                    "database": display_url(self.config.database_url),
                    "next_run_at": iso(next_run) if next_run else None,
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                }
            },
        )

    def _stop_scheduler(self) -> None:
        self._scheduler.shutdown(wait=False)  # no new tick; a running one goes on
        if not self._idle.is_set():
            grace = self.config.grace_period
            logger.info(
                "%s: stopping; the running sync has %g s to finish",
                self._reason(),
                grace,
                extra={"fields": {"event": "stopping", "grace_period": grace}},
            )
            deadline = time.monotonic() + grace
            while not self._interrupt.is_set() and time.monotonic() < deadline:
                if self._idle.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
                    break
            if not self._idle.is_set():
                self._interrupt.set()
                logger.warning(
                    "rolling back the running sync (%s)",
                    "second signal" if self._signals[1:] else "grace period over",
                    extra={"fields": {"event": "interrupting"}},
                )
                if not self._idle.wait(HARD_STOP_SECONDS):
                    logger.error(
                        "the sync did not stop within %g s; exiting without it: the database"
                        " rolls back its open transaction, its run is marked failed",
                        HARD_STOP_SECONDS,
                        extra={"fields": {"event": "abandoned"}},
                    )
                    self._abandon_current_run()
                    self._unregister()
                    logging.shutdown()
                    self._hard_exit(0)
                    return
        self._unregister()
        self._log_stop()

    def _reason(self) -> str:
        return f"received {self._signals[0]}" if self._signals else "stop requested"

    def _log_stop(self) -> None:
        logger.info("%s: stopped", self._reason(), extra={"fields": {"event": "stopped"}})

    # One tick ------------------------------------------------------------------------

    def tick(self) -> None:
        """Run one sync now (the scheduled job). Never raises: every outcome is logged."""
        self._idle.clear()
        try:
            if self._stopping.is_set():
                return
            self.ticks += 1
            self._current_run_id = None
            self._sync_once()
        finally:
            self._idle.set()
            self._wake.set()

    def _sync_once(self) -> None:
        started = time.monotonic()
        engine = service_engine(self.config.database_url)  # fresh each tick, disposed after
        interruptible(
            engine,
            self._interrupt,
            f"serve stopped: the sync was rolled back after the {self.config.grace_period:g} s"
            " grace period",
        )
        try:
            state = schema_state(engine)
            if not state.up_to_date:
                self._unrecorded(
                    f"the database schema is now at revision {state.current or 'none'} but"
                    f" this catalog-etl needs {state.head}: sync not run; restart serve with"
                    " a matching catalog-etl",
                    started,
                )
                return
            result = self._sync(engine)
        except (DatabaseUnavailable, SyncInterrupted) as error:
            self._unrecorded(str(error), started)
        except SQLAlchemyError as error:
            self._unrecorded(f"database unavailable: {describe_error(error)}", started)
        except Exception as error:
            logger.exception(
                "sync failed with an internal error; serve keeps running",
                extra={"fields": {"event": "sync", "status": "failed", "error": repr(error)}},
            )
            self._count("failed", started, 0)
        else:
            self._report(result, started)
        finally:
            engine.dispose()

    def _sync(self, engine: Engine) -> SyncResult:
        job = self.config.job
        return sync_url(
            engine,
            job.url,
            catalog=job.catalog,
            token=job.token,
            fetch_settings=job.fetch_settings,
            provider=job.provider,
            max_removed_share=job.max_removed_share,
            mass_removal_floor=job.mass_removal_floor,
            max_clock_skew=job.max_clock_skew,
            subscriptions=job.subscriptions,
            on_start=self._run_started,
            fetch={"sleep": self._sleep},
            tick_at=self._tick_at,
            # The replica that claimed the tick is the only one to sync it: it waits its turn
            # behind a cron sync or a backfill instead of losing the tick.
            lock_timeout=CLAIMED_TICK_LOCK_WAIT if self._tick_at else 0.0,
        )

    def _submitted(self, fired: datetime) -> None:
        # A scheduled tick is claimed in the database, so that one replica per tick fetches.
        # The run at start (--run-now) is this replica's own: it claims nothing.
        if fired == self._run_now_at:
            self._tick_at = None
        else:
            self._tick_at = self.config.schedule.tick_of(fired)

    def _run_started(self, run_id: int) -> None:
        self._current_run_id = run_id

    def _abandon_current_run(self) -> None:
        run_id = self._current_run_id
        if run_id is None:
            return
        engine = service_engine(self.config.database_url)
        try:
            abandon_run(engine, run_id, f"abandoned: serve stopped ({self._reason()})")
        finally:
            engine.dispose()

    def _sleep(self, seconds: float) -> None:
        """The fetch's pause between retries, ended by a stop request: the grace period is
        for an apply in progress, not for retrying an upstream that is down."""
        if self._stopping.wait(seconds):
            raise SyncInterrupted(
                f"serve stopped ({self._reason()}): the fetch was abandoned between retries"
            )

    def _report(self, result: SyncResult, started: float) -> None:
        log_result(result, time.monotonic() - started)
        if result.notifications and self._notifier is not None:
            self._notifier.wake()
        self._count(result.status, started, result.price_changes)

    def _unrecorded(self, error: str, started: float) -> None:
        log_unrecorded(error, time.monotonic() - started)
        self._count("failed", started, 0)

    def _count(self, status: str, started: float, price_changes: int) -> None:
        if self.config.metrics is not None:
            duration = time.monotonic() - started
            self.config.metrics.observe_run(status, duration, price_changes, time.time())

    # The services row ----------------------------------------------------------------

    def _next_run_at(self) -> datetime | None:
        job = self._scheduler.get_job(JOB_ID) if self._scheduler is not None else None
        moment: datetime | None = job.next_run_time if job is not None else None
        return moment.astimezone(UTC) if moment is not None else None

    def _heartbeat(self) -> None:
        """Record that this service is alive and when it runs next; refresh the metrics."""
        assert self._control is not None and self._registration is not None
        if not self._idle.is_set() and self._control.dialect.name == "sqlite":
            return  # it would wait for our own sync's write lock; the sync wakes one when done
        self._registration.beat(self._next_run_at(), self.config.metrics)

    def _unregister(self) -> None:
        assert self._registration is not None
        self._registration.unregister()
