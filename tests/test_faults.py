"""Faults on purpose: processes killed mid-write, connections cut, concurrent writers.
After each, the database is before or after the sync, never between; the next sync applies;
the history equals a clean replay; every invariant holds (tests/invariants.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from etl.db.tables import sync_runs_table
from etl.pipeline import sync_file
from tests.helpers import natural_history, read_bytes
from tests.invariants import assert_invariants

T1 = datetime(2026, 3, 1, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
REAL = json.loads(read_bytes("openrouter/2025-11-19_teatreechat.json.gz"))["data"]


def big_catalog(copies: int, *, day: int) -> bytes:
    """The real catalog ``copies`` times over (ids suffixed), with day-dependent prices so
    two days differ in prices, names and membership."""
    models = []
    rng = random.Random(day)
    for copy_number in range(copies):
        for model in REAL:
            if day and rng.random() < 0.02:
                continue  # removed that day
            item = json.loads(json.dumps(model))
            item["id"] = f"{model['id']}-{copy_number}"
            if day and rng.random() < 0.05:
                item["pricing"]["prompt"] = f"0.00000{rng.randint(1, 9)}"
                item["name"] = f"{model['name']} (day {day})"
            models.append(item)
    return json.dumps({"data": models}).encode()


def cli(database_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "etl", *args, "--database-url", database_url]


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        cli(database_url, *args), capture_output=True, text=True, env=env, timeout=300
    )


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def comparable(engine: Engine) -> dict[str, Any]:
    history = natural_history(engine)
    del history["observations"]  # run bookkeeping, not history
    return history


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("payloads")
    first, second = folder / "day1.json", folder / "day2.json"
    first.write_bytes(big_catalog(6, day=0))
    second.write_bytes(big_catalog(6, day=1))
    return first, second


class TestKilledMidWrite:
    def test_kill_9_at_random_points(
        self, engine: Engine, make_database: Callable[[], Engine], payloads: tuple[Path, Path]
    ) -> None:
        """`kill -9` during a sync of ~2,000 models, at many points: the database is before or
        after, the killed run stays visibly unfinished, and re-running gives the clean history."""
        first, second = payloads
        clean = make_database()
        assert sync_file(clean, first, observed_at=T1, max_removed_share=None).ok
        assert sync_file(clean, second, observed_at=T2, max_removed_share=None).ok
        expected = comparable(clean)

        start = time.perf_counter()
        probe = make_database()
        assert sync_file(probe, first, observed_at=T1, max_removed_share=None).ok
        probe_url = url_of(probe)
        done = run_cli(
            probe_url,
            "sync",
            "--file",
            str(second),
            "--observed-at",
            T2.isoformat(),
            "--allow-mass-removal",
        )
        assert done.returncode == 0, done.stderr
        duration = time.perf_counter() - start

        outcomes = set()
        rng = random.Random(42)
        attempts = 4
        for attempt in range(attempts):
            target = make_database()
            assert sync_file(target, first, observed_at=T1, max_removed_share=None).ok
            before = comparable(target)
            process = subprocess.Popen(
                cli(
                    url_of(target),
                    "sync",
                    "--file",
                    str(second),
                    "--observed-at",
                    T2.isoformat(),
                    "--allow-mass-removal",
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Spread the kills from start-up to the commit.
            time.sleep(duration * (attempt + rng.random()) / attempts)
            process.send_signal(signal.SIGKILL)
            process.wait()
            state = comparable(target)
            assert state in (before, expected), f"attempt {attempt}: a half-applied sync"
            with target.connect() as connection:
                statuses = (
                    connection.execute(
                        select(sync_runs_table.c.status).order_by(sync_runs_table.c.id)
                    )
                    .scalars()
                    .all()
                )
            outcomes.add("after" if state == expected else "before")
            if state == before:
                assert statuses[-1] in ("running", "succeeded") and len(statuses) >= 1
            assert_invariants(target, check_rebuild=False)
            again = sync_file(target, second, observed_at=T2, max_removed_share=None)
            assert again.ok, again.error
            assert comparable(target) == expected
            assert_invariants(target, check_rebuild=attempt == attempts - 1)
        assert "before" in outcomes  # at least one kill landed before the commit


class TestConnectionCut:
    def test_backend_terminated_mid_sync(
        self, postgres_engine: Engine, payloads: tuple[Path, Path]
    ) -> None:
        """PostgreSQL kills the sync's connection (pg_terminate_backend): the run fails with
        the database's message, nothing partial remains, the next sync applies.

        The sync is cut at a known point, not raced: a lock held on model_versions stops it
        mid-transaction (after its run row and payload archive), and it is killed there."""
        engine, database_url = postgres_engine, url_of(postgres_engine)
        first, second = payloads
        assert sync_file(engine, first, observed_at=T1, max_removed_share=None).ok
        before = comparable(engine)
        killed: list[int] = []
        locker = engine.connect()
        locker.execute(text("LOCK TABLE model_versions IN ACCESS EXCLUSIVE MODE"))

        def terminate() -> None:
            deadline = time.monotonic() + 60
            # Autocommit: inside one transaction pg_stat_activity would be a frozen snapshot.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
                while time.monotonic() < deadline and not killed:
                    pids = (
                        watcher.execute(
                            text(
                                "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                                " AND wait_event_type = 'Lock' AND query ILIKE '%model_versions%'"
                            )
                        )
                        .scalars()
                        .all()
                    )
                    for pid in pids:
                        watcher.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                        killed.append(pid)
                    time.sleep(0.01)

        thread = threading.Thread(target=terminate)
        thread.start()
        try:
            result = run_cli(
                database_url,
                "sync",
                "--file",
                str(second),
                "--observed-at",
                T2.isoformat(),
                "--allow-mass-removal",
                "--format",
                "json",
            )
        finally:
            thread.join()
            locker.rollback()
            locker.close()
        assert killed, "the sync never waited on model_versions"
        summary = json.loads(result.stdout)
        assert result.returncode == 1 and summary["status"] == "failed"
        assert "database error" in summary["error"] and "\n" not in summary["error"]
        assert comparable(engine) == before
        again = sync_file(engine, second, observed_at=T2, max_removed_share=None)
        assert again.ok, again.error
        assert_invariants(engine)

    def test_database_error_is_one_line_not_a_traceback(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """A database that refuses the work (a corrupt SQLite file, an unknown PostgreSQL
        role) is reported in one line with the database's own message."""
        if engine.dialect.name == "sqlite":
            corrupt = tmp_path / "corrupt.db"
            corrupt.write_bytes(b"this is not a database file" * 200)
            result = run_cli(f"sqlite:///{corrupt}", "sync", "--file", str(tmp_path / "x.json"))
            expected = "file is not a database"
        else:
            result = run_cli("postgresql://nobody@127.0.0.1:5432/test", "runs")
            expected = 'role "nobody" does not exist'
        assert result.returncode == 1
        assert "Traceback" not in result.stderr + result.stdout
        assert expected in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2  # one message, maybe wrapped


class TestConcurrentWriters:
    def test_eight_processes_at_once(
        self, engine: Engine, database_url: str, make_database: Callable[[], Engine], tmp_path: Path
    ) -> None:
        """8 processes sync 8 different catalogs at the same moment, waiting for the lock:
        every payload is applied exactly once and the history equals a serial replay."""
        files = []
        for day in range(8):
            path = tmp_path / f"day{day}.json"
            path.write_bytes(big_catalog(1, day=day + 1))
            files.append(path)
        processes = [
            subprocess.Popen(
                cli(
                    database_url,
                    "sync",
                    "--file",
                    str(path),
                    "--allow-mass-removal",
                    "--lock-timeout",
                    "240",
                    "--format",
                    "json",
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path in files
        ]
        outputs = [process.communicate(timeout=300) for process in processes]
        summaries = [json.loads(out) for out, _ in outputs]
        assert [s["status"] for s in summaries] == ["succeeded"] * 8, outputs

        with engine.connect() as connection:
            applied = connection.execute(
                select(
                    sync_runs_table.c.observed_at,
                    sync_runs_table.c.payload_sha256,
                    sync_runs_table.c.source,
                )
                .where(sync_runs_table.c.status == "succeeded")
                .order_by(sync_runs_table.c.observed_at)
            ).all()
        assert sorted(row.source for row in applied) == sorted(str(p) for p in files)
        assert len({row.payload_sha256 for row in applied}) == 8
        assert_invariants(engine)

        serial = make_database()
        for row in applied:
            assert sync_file(
                serial, row.source, observed_at=row.observed_at, max_removed_share=None
            ).ok
        assert comparable(serial) == comparable(engine)
