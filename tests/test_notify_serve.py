"""`serve` delivering notifications as operators run it: real processes, a catalog and a
receiver on loopback, a receiver that is down, kill -9, and two replicas."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select
from werkzeug import Request, Response

from etl.db.tables import notifications_table
from tests.test_serve import WAIT, Catalog, ServeProcess, start_serve, wait_until

__all__ = ["start_serve"]  # the fixture, used by name

SECRET = "tok-NOTIFY-8d2e61"


class Receiver:
    """Records each message it accepts; while ``down`` it answers 503."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.down = False
        httpserver.expect_request(f"/hook/{SECRET}").respond_with_handler(self)
        self.url = httpserver.url_for(f"/hook/{SECRET}")

    def __call__(self, request: Request) -> Response:
        with self.lock:
            if self.down:
                self.refused += 1
                return Response("down", status=503)
            self.accepted.append(json.loads(request.data))
        return Response("ok")

    def keys(self) -> list[str]:
        with self.lock:
            return [body["idempotency_key"] for body in self.accepted]


def outbox(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(
                    notifications_table.c.sync_run_id,
                    notifications_table.c.status,
                    notifications_table.c.idempotency_key,
                ).order_by(notifications_table.c.id)
            )
        )


def all_delivered(engine: Engine, at_least: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = outbox(engine)
        return len(rows) >= at_least and all(row.status == "delivered" for row in rows)

    return check


class TestServeNotifies:
    def test_down_then_killed_then_back(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
    ) -> None:
        """The receiver is down for several ticks, then serve is killed with SIGKILL; started
        again with the receiver up, it delivers every message the first one committed: each
        once, in the order of the syncs, and no URL secret is logged."""
        catalog, receiver = Catalog(httpserver), Receiver(httpserver)
        receiver.down = True
        args = ("--every", "1s", "--url", catalog.url)
        env = {"CATALOG_ETL_NOTIFY": receiver.url}
        first = start_serve(database_url, *args, **env)
        wait_until(lambda: len(outbox(engine)) >= 3, "three messages written", WAIT, first)
        wait_until(lambda: receiver.refused >= 3, "three refused deliveries", WAIT, first)
        first.stop(signal_number=signal.SIGKILL)
        written = outbox(engine)
        assert all(row.status == "pending" for row in written)
        receiver.down = False
        second = start_serve(database_url, "--every", "1h", "--url", catalog.url, **env)
        wait_until(all_delivered(engine, len(written)), "the backlog delivered", WAIT, second)
        assert second.stop() == 0, second.output
        delivered = outbox(engine)
        assert receiver.keys() == [row.idempotency_key for row in delivered]
        runs = [body["run_id"] for body in receiver.accepted]
        assert runs == sorted(runs) and len(set(runs)) == len(runs)
        assert [row.sync_run_id for row in written] == runs[: len(written)]
        for body in receiver.accepted:
            assert body["counts"] == {"price_increase": 1}
        for process in (first, second):
            assert SECRET not in process.output

    def test_two_replicas_deliver_each_message_once(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
    ) -> None:
        """Two replicas with the same subscription: every message reaches the receiver
        exactly once."""
        catalog, receiver = Catalog(httpserver), Receiver(httpserver)
        env = {"CATALOG_ETL_NOTIFY": receiver.url}
        replicas = [
            start_serve(database_url, "--every", "1s", "--url", catalog.url, **env)
            for _ in range(2)
        ]
        wait_until(lambda: len(receiver.keys()) >= 4, "four deliveries", WAIT, *replicas)
        for replica in replicas:
            assert replica.stop() == 0, replica.output
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all_delivered(engine, 1)():
            time.sleep(0.05)
        keys = receiver.keys()
        assert len(keys) == len(set(keys)), "a message was delivered twice"
        delivered = [row.idempotency_key for row in outbox(engine) if row.status == "delivered"]
        assert sorted(delivered) == sorted(keys)
