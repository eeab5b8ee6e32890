"""`catalog-etl serve` as operators run it: real processes, a catalog served over loopback
HTTP, real SQLite and PostgreSQL databases, SIGTERM.

Every wait is bounded and polls (the database or the JSON log) rather than sleeping blindly.
The catalog server answers each request with a new payload (one model's price changes), so
"each payload applied exactly once" can be checked from the runs and the price history.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.engine import make_url
from werkzeug import Request, Response

import etl.pipeline
from etl.cli import cli
from etl.db.engine import write_transaction
from etl.db.tables import (
    model_versions_table,
    models_table,
    prices_table,
    services_table,
    sync_runs_table,
)
from etl.pipeline import sync_bytes
from tests.helpers import make_model, payload

WAIT = 20.0
"""The longest any single wait may take; a healthy run needs a fraction of it."""
TOKEN = "tok-SERVE-3f9a0c7e51"
URL_SECRET = "key-SERVE-77d1e0b2"
VARIED = "acme/rocket-1"


def wait_until(
    condition: Callable[[], bool], what: str, timeout: float = WAIT, *logs: ServeProcess
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            output = "\n".join(log.output for log in logs)
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{output}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Catalog:
    """A catalog endpoint that serves a new payload on every request: the prompt price of
    ``acme/rocket-1`` is the request's number (in units of 1e-9 USD). ``delay`` makes the
    answers slow, and ``slow_started`` tells when a slow one began."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.delay = 0.0
        self.slow_started = threading.Event()
        self.served: dict[str, Decimal] = {}
        httpserver.expect_request("/models").respond_with_handler(self)
        self.url = httpserver.url_for("/models")

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
            number, delay = self.requests, self.delay
        price = Decimal(number).scaleb(-9)
        body = payload(
            [
                make_model(VARIED, pricing={"prompt": f"{price:f}", "completion": "0.000002"}),
                make_model("acme/steady"),
            ]
        )
        with self.lock:
            self.served[hashlib.sha256(body).hexdigest()] = price
        if delay:
            self.slow_started.set()
            time.sleep(delay)
        return Response(body, content_type="application/json")


class ServeProcess:
    """`python -m etl serve ...` with JSON logs, read line by line as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "etl", "serve", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict):
                found.append(document)
        return found

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> None:
        def seen() -> bool:
            if self.process.poll() is not None:
                code = self.process.returncode
                pytest.fail(f"serve exited ({code}) before {what}:\n{self.output}")
            return any(predicate(event) for event in self.events())

        wait_until(seen, what, WAIT, self)

    def exit_code(self, timeout: float = WAIT) -> int:
        """Wait for the process to end; its exit code, with all its output read."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self, timeout: float = WAIT, signal_number: int = signal.SIGTERM) -> int:
        """SIGTERM (or another signal), then the exit code."""
        self.process.send_signal(signal_number)
        return self.exit_code(timeout)

    def close(self) -> None:
        """Kill the process if it still runs, and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.exit_code(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Start serve processes (JSON logs, PYTHONUNBUFFERED); any left running are killed."""
    started: list[ServeProcess] = []

    def start(database_url: str, *args: str, **env_vars: str) -> ServeProcess:
        env = child_env(database_url, CATALOG_ETL_LOG_FORMAT="json", **env_vars)
        process = ServeProcess(list(args), env, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


def child_env(database_url: str, **env_vars: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CATALOG_ETL_") or name.startswith("CATALOG_ETL_TEST")
    }
    env.update(PYTHONUNBUFFERED="1", CATALOG_ETL_DATABASE_URL=database_url, **env_vars)
    return env


def runs(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(
                    sync_runs_table.c.id,
                    sync_runs_table.c.status,
                    sync_runs_table.c.payload_sha256,
                    sync_runs_table.c.observed_at,
                    sync_runs_table.c.finished_at,
                    sync_runs_table.c.error,
                ).order_by(sync_runs_table.c.id)
            ).all()
        )


def succeeded(engine: Engine) -> list[Any]:
    return [run for run in runs(engine) if run.status == "succeeded"]


def prompt_prices(engine: Engine) -> list[Any]:
    """The price history of the varied model's prompt, oldest first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(prices_table.c.amount, prices_table.c.valid_from, prices_table.c.valid_to)
                .join(models_table, models_table.c.id == prices_table.c.model_id)
                .where(models_table.c.model == VARIED, prices_table.c.component == "prompt")
                .order_by(prices_table.c.valid_from)
            ).all()
        )


def assert_each_payload_applied_once(engine: Engine, catalog: Catalog) -> list[Any]:
    """Every successful run applied a distinct payload that was served, and the price
    history is exactly those payloads' prices, one interval after the other."""
    applied = sorted(succeeded(engine), key=lambda run: run.observed_at)
    hashes = [run.payload_sha256 for run in applied]
    assert len(hashes) == len(set(hashes)), "a payload was applied twice"
    assert set(hashes) <= set(catalog.served)
    prices = prompt_prices(engine)
    assert [Decimal(str(p.amount)) for p in prices] == [catalog.served[h] for h in hashes]
    assert [p.valid_from for p in prices] == [run.observed_at for run in applied]
    assert [p.valid_to for p in prices] == [p.valid_from for p in prices[1:]] + [None]
    return applied


def assert_no_half_applied_run(engine: Engine) -> None:
    """No run is left `running`, and each model has exactly one current version."""
    assert "running" not in {run.status for run in runs(engine)}
    with engine.connect() as connection:
        current = connection.execute(
            select(model_versions_table.c.model_id, func.count())
            .where(model_versions_table.c.valid_to.is_(None))
            .group_by(model_versions_table.c.model_id)
        ).all()
    assert current and all(count == 1 for _, count in current)


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text: str = answer.read().decode()
        return text


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return -1.0


class TestServeProcess:
    def test_runs_every_second_and_stops_cleanly_on_sigterm(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
    ) -> None:
        """`serve --every 1s` records runs each second; SIGTERM during a sync lets it
        finish, then exits 0 with nothing half-applied; metrics, status and logs agree, and
        no secret is logged."""
        catalog = Catalog(httpserver)
        port = free_port()
        serve = start_serve(
            database_url,
            "--every",
            "1s",
            "--url",
            f"{catalog.url}?api_key={URL_SECRET}",
            "--metrics-port",
            str(port),
            "--metrics-address",
            "127.0.0.1",
            CATALOG_ETL_API_TOKEN=TOKEN,
        )
        wait_until(lambda: len(succeeded(engine)) >= 2, "two successful runs", WAIT, serve)
        wait_until(
            lambda: (
                metric(metrics_text(port), 'catalog_etl_sync_runs_total{status="succeeded"}') >= 2
                and metric(metrics_text(port), "catalog_etl_models_available") == 2
            ),
            "metrics of two runs",
        )
        report = json.loads(
            CliRunner()
            .invoke(cli, ["status", "--database-url", database_url, "--format", "json"])
            .output
        )
        assert report["next_run_at"] and report["services"][0]["pid"] == serve.process.pid
        # The same server publishes the Atom feed: an entry per sync that changed a price.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/feed.xml", timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("application/atom+xml")
            feed = answer.read().decode()
        assert feed.count("<entry>") >= 1 and "price increase" in feed

        catalog.delay = 1.5
        assert catalog.slow_started.wait(WAIT)
        assert serve.stop() == 0, serve.output

        assert_no_half_applied_run(engine)
        applied = assert_each_payload_applied_once(engine, catalog)
        assert len(applied) >= 3 and {run.status for run in runs(engine)} == {"succeeded"}
        with engine.connect() as connection:
            (stopped_at,) = connection.execute(select(services_table.c.stopped_at)).scalars().all()
        assert stopped_at is not None
        events = serve.events()
        syncs = [e for e in events if e.get("event") == "sync"]
        assert {"run_id", "status", "added", "price_changes", "duration_seconds"} <= set(syncs[0])
        assert [e["event"] for e in events if e.get("event") in ("stopping", "stopped")] == [
            "stopping",
            "stopped",
        ]
        assert TOKEN not in serve.output and URL_SECRET not in serve.output

    def test_sigterm_during_a_retry_pause_stops_at_once(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
    ) -> None:
        """SIGTERM while a fetch waits to retry a failing upstream (Retry-After: 60) ends
        serve at once, well inside the 30 s grace period: no further request is made and
        the run is recorded `failed`, abandoned between retries."""
        requests: list[float] = []

        def down(_request: Request) -> Response:
            requests.append(time.monotonic())
            return Response("down for maintenance", status=503, headers={"Retry-After": "60"})

        httpserver.expect_request("/down").respond_with_handler(down)
        serve = start_serve(
            database_url, "--every", "1h", "--run-now", "--url", httpserver.url_for("/down")
        )
        serve.wait_for_event(lambda e: "retrying in" in str(e.get("message")), "a retry pause")
        stopped = time.monotonic()
        assert serve.stop() == 0, serve.output
        assert time.monotonic() - stopped < 10, "serve kept waiting to retry"
        assert len(requests) == 1
        (run,) = runs(engine)
        assert run.status == "failed"
        assert "received SIGTERM" in run.error and "abandoned between retries" in run.error

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_sync_past_the_grace_period_is_rolled_back(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
    ) -> None:
        """A sync still running when the grace period ends is rolled back and recorded
        `failed`; the process still exits 0."""
        catalog = Catalog(httpserver)
        serve = start_serve(
            database_url, "--every", "1s", "--grace-period", "1s", "--url", catalog.url
        )
        wait_until(lambda: len(succeeded(engine)) >= 1, "a successful run", WAIT, serve)
        catalog.delay = 2.5
        assert catalog.slow_started.wait(WAIT)
        assert serve.stop() == 0, serve.output
        last = runs(engine)[-1]
        assert last.status == "failed"
        assert "rolled back after the 1 s grace period" in last.error
        assert_no_half_applied_run(engine)
        assert_each_payload_applied_once(engine, catalog)
        assert any(e.get("event") == "interrupting" for e in serve.events())

    def test_replicas_and_a_cron_sync_apply_each_payload_once(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
        tmp_path: Path,
    ) -> None:
        """Two replicas with the same schedule plus a cron-style `sync` on one database:
        applies never overlap, every payload is applied at most once, no duplicate version."""
        catalog = Catalog(httpserver)
        replicas = [
            start_serve(database_url, "--every", "1s", "--url", catalog.url) for _ in range(2)
        ]
        wait_until(lambda: len(succeeded(engine)) >= 2, "two successful runs", WAIT, *replicas)
        outcomes: list[subprocess.CompletedProcess[str]] = []

        def cron_sync() -> None:
            outcomes.append(
                subprocess.run(
                    [sys.executable, "-m", "etl", "sync", "--url", catalog.url, "--format", "json"],
                    env=child_env(database_url),
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=WAIT,
                )
            )

        syncs = [threading.Thread(target=cron_sync) for _ in range(2)]
        for thread in syncs:
            thread.start()
        for thread in syncs:
            thread.join()
        for done in outcomes:
            outcome = json.loads(done.stdout)
            assert outcome["status"] in ("succeeded", "skipped"), done.stdout + done.stderr
            assert done.returncode == 0
        wait_until(lambda: len(succeeded(engine)) >= 3, "three successful runs", WAIT, *replicas)
        for replica in replicas:
            replica.process.send_signal(signal.SIGTERM)
        for replica in replicas:
            assert replica.exit_code() == 0, replica.output

        assert_no_half_applied_run(engine)
        assert len(assert_each_payload_applied_once(engine, catalog)) >= 3
        # The lock, not the unique indexes, kept the replicas apart: nothing failed.
        assert {run.status for run in runs(engine)} <= {"succeeded", "skipped"}
        for replica in replicas:
            assert any(e.get("event") == "sync" for e in replica.events())

    @pytest.mark.parametrize("replicas", [2, 3])
    def test_replicas_claim_each_tick_before_fetching(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
        replicas: int,
    ) -> None:
        """Two or three replicas with one schedule on one database: each tick is fetched
        once and applied once; the other replicas record it `skipped` without contacting
        the upstream."""
        catalog = Catalog(httpserver)
        started = [
            start_serve(database_url, "--every", "2s", "--url", catalog.url)
            for _ in range(replicas)
        ]

        def ticks() -> list[Any]:
            with engine.connect() as connection:
                return list(
                    connection.execute(
                        select(
                            sync_runs_table.c.status,
                            sync_runs_table.c.tick_at,
                            sync_runs_table.c.error,
                        )
                    ).all()
                )

        def claimed() -> list[Any]:
            return [run for run in ticks() if run.tick_at is not None]

        wait_until(lambda: len(claimed()) >= 5, "five claimed ticks", 4 * WAIT, *started)
        for replica in started:
            replica.process.send_signal(signal.SIGTERM)
        for replica in started:
            assert replica.exit_code() == 0, replica.output
        runs_now, claims = ticks(), claimed()
        assert {run.status for run in claims} == {"succeeded"}
        assert catalog.requests == len(claims)  # one request per tick, whatever the replicas
        skipped = [run for run in runs_now if run.status == "skipped"]
        assert all("claimed by run" in (run.error or "") for run in skipped)
        # Every tick after the first (all replicas were up by then) was skipped by the others.
        assert len(skipped) >= (replicas - 1) * (len(claims) - 1)
        assert len(runs_now) == len(claims) + len(skipped)
        assert_each_payload_applied_once(engine, catalog)


class TestWithoutTheLock:
    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_unique_indexes_refuse_a_second_current_version(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the sync lock removed, two syncs applying at the same moment cannot both
        write: the unique indexes fail one of them, and every model keeps one current
        version and one current price per component."""
        assert sync_bytes(engine, payload([make_model(VARIED)])).ok
        together = threading.Barrier(2, timeout=WAIT)

        @contextlib.contextmanager
        def unlocked(engine: Engine, **_options: Any) -> Iterator[Connection]:
            with write_transaction(engine) as connection:
                connection.execute(text("SELECT 1"))
                together.wait()  # both transactions are open before either writes
                yield connection

        monkeypatch.setattr(etl.pipeline, "sync_transaction", unlocked)
        results: list[Any] = []

        def sync(name: str, price: str) -> None:
            model = make_model(VARIED, name=name, pricing={"prompt": price, "completion": "1"})
            results.append(sync_bytes(engine, payload([model])))

        threads = [
            threading.Thread(target=sync, args=("Rocket A", "0.1")),
            threading.Thread(target=sync, args=("Rocket B", "0.2")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT)
        assert sorted(result.status for result in results) == ["failed", "succeeded"]
        (failed,) = [result for result in results if result.status == "failed"]
        assert failed.error.startswith("database error"), failed.error
        assert_no_half_applied_run(engine)
        with engine.connect() as connection:
            current_prices = connection.execute(
                select(prices_table.c.component, func.count())
                .where(prices_table.c.valid_to.is_(None))
                .group_by(prices_table.c.model_id, prices_table.c.component)
            ).all()
        assert current_prices and all(count == 1 for _, count in current_prices)


class TCPProxy:
    """A TCP port in front of PostgreSQL that can go down (refusing connections and cutting
    open ones) and come back: a database outage without touching the real server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
            self._listener.close()
            self._listener = None
        with self._lock:
            for connection in self._open:
                self._close(connection)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(sink)

    @staticmethod
    def _close(connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()


@pytest.fixture
def proxy(database_url: str) -> Iterator[TCPProxy]:
    url = make_url(database_url)
    gate = TCPProxy((url.host or "127.0.0.1", url.port or 5432))
    yield gate
    gate.down()


class TestDatabaseOutage:
    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_service_survives_postgres_going_away(
        self,
        engine: Engine,
        database_url: str,
        proxy: TCPProxy,
        httpserver: HTTPServer,
        start_serve: Callable[..., ServeProcess],
    ) -> None:
        """PostgreSQL unreachable at start and again at a tick: serve waits, logs the failed
        tick (unrecordable), keeps running, and the next tick after recovery succeeds."""
        catalog = Catalog(httpserver)
        through_proxy = (
            make_url(database_url)
            .set(host="127.0.0.1", port=proxy.port)
            .render_as_string(hide_password=False)
        )
        serve = start_serve(through_proxy, "--every", "1s", "--url", catalog.url)
        serve.wait_for_event(
            lambda e: e.get("event") == "database_unavailable", "the database wait at start"
        )
        proxy.up()
        wait_until(lambda: len(succeeded(engine)) >= 1, "a successful run", WAIT, serve)

        proxy.down()
        serve.wait_for_event(
            lambda e: e.get("event") == "sync" and e.get("recorded") is False,
            "a tick failing for want of the database",
        )
        assert serve.process.poll() is None
        before = len(succeeded(engine))
        proxy.up()
        wait_until(
            lambda: len(succeeded(engine)) > before, "a successful run after recovery", WAIT, serve
        )
        assert serve.stop() == 0, serve.output
        assert_no_half_applied_run(engine)
        assert_each_payload_applied_once(engine, catalog)


class TestStartup:
    def test_refuses_a_database_without_the_schema(
        self, tmp_path: Path, start_serve: Callable[..., ServeProcess]
    ) -> None:
        """An empty database is not at the latest revision: exit 1 naming `db upgrade`."""
        (tmp_path / "empty.db").touch()
        serve = start_serve(
            f"sqlite:///{tmp_path / 'empty.db'}", "--every", "1h", "--url", "http://127.0.0.1/m"
        )
        assert serve.exit_code() == 1
        (fatal,) = [e for e in serve.events() if e.get("event") == "fatal"]
        assert "catalog-etl db upgrade" in fatal["message"] and "--migrate" in fatal["message"]

    def test_refuses_a_missing_sqlite_file(self, tmp_path: Path) -> None:
        """A missing SQLite file is refused (human log line, exit 1) and not created."""
        done = subprocess.run(
            [sys.executable, "-m", "etl", "serve", "--every", "1h", "--url", "http://x/"],
            env=child_env(f"sqlite:///{tmp_path / 'none.db'}"),
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert done.returncode == 1
        assert "ERROR" in done.stderr and "catalog-etl db upgrade" in done.stderr
        assert not (tmp_path / "none.db").exists()

    def test_migrate_then_run_now(
        self, tmp_path: Path, httpserver: HTTPServer, start_serve: Callable[..., ServeProcess]
    ) -> None:
        """--migrate creates the schema, --run-now syncs at once on an hourly schedule, and
        SIGINT (Ctrl-C) stops it with exit code 0."""
        catalog = Catalog(httpserver)
        database = f"sqlite:///{tmp_path / 'new.db'}"
        serve = start_serve(
            database, "--every", "1h", "--migrate", "--run-now", "--url", catalog.url
        )
        serve.wait_for_event(lambda e: e.get("status") == "succeeded", "the first run")
        assert serve.stop(signal_number=signal.SIGINT) == 0, serve.output
        events = {e.get("event") for e in serve.events()}
        assert {"migrated", "started", "sync", "stopped"} <= events
        assert "received SIGINT" in serve.output


class TestServeOptions:
    @pytest.mark.parametrize(
        ("args", "env", "message"),
        [
            ([], {}, "either --every DURATION or --cron EXPR"),
            (["--every", "1h", "--cron", "0 * * * *"], {}, "either --every"),
            (["--every", "1h"], {}, "give the catalog's URL"),
            # The flag wins over the environment, so the next complaint is the URL.
            (["--every", "1h"], {"CATALOG_ETL_CRON": "0 * * * *"}, "give the catalog's URL"),
            (["--cron", "0 * * *", "--url", "http://x/"], {}, "expected 5"),
            (["--every", "soon"], {}, "--every must be a duration such as 30s"),
            (["--cron", "0 9 * * *", "--timezone", "Mars/Base", "--url", "http://x/"], {}, "IANA"),
            (["--every", "1m", "--jitter", "5m", "--url", "http://x/"], {}, "jitter"),
        ],
    )
    def test_usage_errors(self, args: list[str], env: dict[str, str], message: str) -> None:
        """A schedule or source that cannot work is a usage error (exit 2) before anything
        starts."""
        result = CliRunner().invoke(cli, ["serve", *args], env=env)
        assert result.exit_code == 2, result.output
        assert message in result.output
