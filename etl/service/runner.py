"""One catalog of a running ``serve``: its ticks, each claimed in the database before anything
is fetched, its fetch's pauses between retries, its current run and how each outcome is
logged and counted.

A service runs a :class:`CatalogRunner` per catalog, each in a worker thread of its own: one
catalog's slow upstream, retry pauses or failures never hold up another's ticks. What the
catalogs share (the database, the stop requests, the metrics, the notifier) is a
:class:`Shared`. Every tick uses a fresh engine, disposed afterwards, so a database that went
away and came back costs one failed tick and nothing else; a tick that cannot even record
its run (the database is down) is logged, not raised.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from etl.db.engine import describe_error
from etl.errors import DatabaseUnavailable
from etl.pipeline import SyncResult, abandon_run, sync_url
from etl.service.config import CatalogJob
from etl.service.engines import SyncInterrupted, interruptible, service_engine, track_writes
from etl.service.metrics import Metrics
from etl.service.notifier import Notifier
from etl.service.outcomes import log_result, log_unrecorded
from etl.store.migrate import head_revision, schema_revision

logger = logging.getLogger("etl.serve")

LOCK_WAIT = 60.0
"""Seconds a serve's sync waits for the sync lock before it is skipped. The lock is the
database's: another catalog of the same service, a cron sync or a backfill may hold it for
the length of an apply, and the replica that claimed a tick is the only one to sync it."""


@dataclass
class Shared:
    """What the catalogs of one service share."""

    database_url: str = field(repr=False)
    grace_period: float
    named: bool = False
    """Log lines name their catalog (see :mod:`etl.service.outcomes`)."""
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set by the first stop request: no new tick starts, retry pauses end."""
    interrupt: threading.Event = field(default_factory=threading.Event)
    """Set past the grace period (or by a second request): running syncs roll back."""
    wake: threading.Event = field(default_factory=threading.Event)
    """Wakes the service's main loop: a sync ended (a heartbeat is due) or a stop came."""
    signals: list[str] = field(default_factory=list)
    metrics: Metrics | None = None
    notifier: Notifier | None = None

    def reason(self) -> str:
        """Why the service stops, for log lines and failed runs."""
        return f"received {self.signals[0]}" if self.signals else "stop requested"


class CatalogRunner:
    """The scheduled job of one catalog: :meth:`tick` runs one sync of it, never raising."""

    def __init__(self, entry: CatalogJob, shared: Shared) -> None:
        self.job = entry.job
        self.schedule = entry.schedule
        self._shared = shared
        self.idle = threading.Event()
        """Clear while a tick runs."""
        self.idle.set()
        self.writing = threading.Event()
        """Set while the sync's write transaction is open (on SQLite it holds the lock)."""
        self.ticks = 0
        """Ticks that started a sync."""
        self.run_now_at: datetime | None = None
        """When the run at start (``--run-now``) is due: it claims no tick."""
        self._tick_at: datetime | None = None
        """The scheduled tick the next sync claims (None: it claims none)."""
        self._current_run_id: int | None = None

    @property
    def name(self) -> str:
        return self.job.catalog

    def submitted(self, fired: datetime) -> None:
        """Told the scheduled time of the run about to start (from the scheduler's thread).

        A scheduled tick is claimed in the database, so that one replica per tick fetches.
        The run at start (--run-now) is this replica's own: it claims nothing."""
        self._tick_at = None if fired == self.run_now_at else self.schedule.tick_of(fired)

    def tick(self) -> None:
        """Run one sync now (the scheduled job). Never raises: every outcome is logged."""
        self.idle.clear()
        try:
            if self._shared.stopping.is_set():
                return
            self.ticks += 1
            self._current_run_id = None
            self._sync_once()
        finally:
            self.idle.set()
            self._shared.wake.set()

    def abandon_current_run(self) -> None:
        """Mark the running sync's run failed: the process exits without it."""
        run_id = self._current_run_id
        if run_id is None:
            return
        engine = service_engine(self._shared.database_url)
        try:
            abandon_run(engine, run_id, f"abandoned: serve stopped ({self._shared.reason()})")
        finally:
            engine.dispose()

    def _sync_once(self) -> None:
        started = time.monotonic()
        engine = service_engine(self._shared.database_url)  # fresh each tick, disposed after
        interruptible(
            engine,
            self._shared.interrupt,
            f"serve stopped: the sync was rolled back after the {self._shared.grace_period:g} s"
            " grace period",
        )
        track_writes(engine, self.writing)
        try:
            current, head = schema_revision(engine), head_revision()
            if current != head:
                self._unrecorded(
                    f"the database schema is now at revision {current or 'none'} but"
                    f" this catalog-etl needs {head}: sync not run; restart serve with"
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
                "%ssync failed with an internal error; serve keeps running",
                self._prefix(),
                extra={
                    "fields": {
                        "event": "sync",
                        "catalog": self.name,
                        "status": "failed",
                        "error": repr(error),
                    }
                },
            )
            self._count("failed", started, 0)
        else:
            self._report(result, started)
        finally:
            engine.dispose()

    def _sync(self, engine: Engine) -> SyncResult:
        job = self.job
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
            lock_timeout=LOCK_WAIT,
        )

    def _run_started(self, run_id: int) -> None:
        self._current_run_id = run_id

    def _sleep(self, seconds: float) -> None:
        """The fetch's pause between retries, ended by a stop request: the grace period is
        for an apply in progress, not for retrying an upstream that is down."""
        if self._shared.stopping.wait(seconds):
            raise SyncInterrupted(
                f"serve stopped ({self._shared.reason()}): the fetch was abandoned between retries"
            )

    def _prefix(self) -> str:
        return f"{self.name}: " if self._shared.named else ""

    def _report(self, result: SyncResult, started: float) -> None:
        log_result(result, time.monotonic() - started, named=self._shared.named)
        notifier = self._shared.notifier
        if result.notifications and notifier is not None:
            notifier.wake()
        self._count(result.status, started, result.price_changes)

    def _unrecorded(self, error: str, started: float) -> None:
        duration = time.monotonic() - started
        log_unrecorded(error, duration, catalog=self.name, named=self._shared.named)
        self._count("failed", started, 0)

    def _count(self, status: str, started: float, price_changes: int) -> None:
        metrics = self._shared.metrics
        if metrics is not None:
            duration = time.monotonic() - started
            metrics.observe_run(status, duration, price_changes, time.time(), catalog=self.name)
