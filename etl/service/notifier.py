"""The outbox delivered by ``serve``, in a thread of its own: at start (what a killed serve
left), as soon as a sync has committed, and every heartbeat for retries. A destination that
hangs delays its own messages, never a sync or a stop."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from etl.db.engine import describe_error
from etl.notify.deliver import deliver_due, process_alive
from etl.notify.outbox import release_dead_leases
from etl.notify.subscriptions import Subscription
from etl.service.engines import service_engine
from etl.times import utcnow

logger = logging.getLogger("etl.serve")


class Notifier:
    def __init__(
        self, database_url: str, subscriptions: Sequence[Subscription], interval: float
    ) -> None:
        self._database_url = database_url
        self._subscriptions = subscriptions
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Deliver now: a sync has committed."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """No new delivery starts; one under way gets ``timeout`` seconds (then the process
        exits without it, and its lease lets the next serve deliver it again)."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        engine = service_engine(self._database_url, poolclass=NullPool)
        try:
            with contextlib.suppress(SQLAlchemyError):  # the loop below says so if it lasts
                release_dead_leases(engine, socket.gethostname(), process_alive)
            starting = True  # what a previous serve left is tried at once, backoff or not
            while not self._stopping.is_set():
                wait = self._interval
                try:
                    done = deliver_due(
                        engine, self._subscriptions, stopping=self._stopping, now_or_due=starting
                    )
                    starting = False
                    if done.next_due is not None:
                        wait = min(wait, max(0.1, (done.next_due - utcnow()).total_seconds()))
                except SQLAlchemyError as error:
                    logger.warning(
                        "notifications not delivered: database unavailable: %s",
                        describe_error(error),
                        extra={"fields": {"event": "notify", "status": "database unavailable"}},
                    )
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            engine.dispose()
