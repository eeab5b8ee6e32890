"""`catalog-etl status`: last run, last success, models available, next run, and the exit
code of `--max-age` for health checks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, insert, update

from etl.cli import cli
from etl.db.tables import services_table, sync_runs_table
from etl.pipeline import sync_bytes
from etl.service.status import describe_age, status_report
from etl.times import utcnow
from tests.helpers import make_model, payload


def status(database_url: str, *args: str, expect: int) -> str:
    result = CliRunner().invoke(
        cli, ["status", "--database-url", database_url, *args], catch_exceptions=False
    )
    assert result.exit_code == expect, result.output
    return result.output


def status_json(database_url: str, *args: str, expect: int = 0) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        status(database_url, "--format", "json", *args, expect=expect)
    )
    return document


def age_last_success(engine: Engine, age: timedelta) -> None:
    """Pretend the successful runs finished ``age`` ago."""
    with engine.begin() as connection:
        connection.execute(
            update(sync_runs_table)
            .where(sync_runs_table.c.status == "succeeded")
            .values(started_at=utcnow() - age, finished_at=utcnow() - age)
        )


def add_service(engine: Engine, heartbeat_age: timedelta, **values: Any) -> None:
    now = utcnow()
    row = {
        "hostname": "host-a",
        "pid": 4242,
        "schedule": "every 1h",
        "started_at": now - timedelta(days=1),
        "heartbeat_at": now - heartbeat_age,
        "next_run_at": now + timedelta(minutes=30),
    }
    row.update(values)
    with engine.begin() as connection:
        connection.execute(insert(services_table).values(**row))


class TestStatus:
    def test_empty_database(self, database_url: str) -> None:
        """No run yet: nulls and zero models; healthy unless a maximum age is asked for."""
        report = status_json(database_url)
        assert (report["last_run"], report["last_success"], report["models_available"]) == (
            None,
            None,
            0,
        )
        assert report["healthy"] and report["next_run_at"] is None
        report = status_json(database_url, "--max-age", "1h", expect=1)
        assert report["problem"] == "no sync has succeeded yet"

    def test_after_a_sync(self, engine: Engine, database_url: str) -> None:
        """A fresh success: last run and last success with their counts, models available,
        and `--max-age` passes."""
        sync_bytes(engine, payload([make_model("a/one"), make_model("a/two")]))
        report = status_json(database_url, "--max-age", "1h")
        assert report["healthy"] and report["problem"] is None
        assert report["models_available"] == 2
        success = report["last_success"]
        assert success == report["last_run"]
        assert (success["status"], success["added"], success["models_seen"]) == (
            "succeeded",
            2,
            2,
        )
        assert success["duration_seconds"] is not None
        assert 0 <= report["last_success_age_seconds"] < 60

    def test_max_age_exit_codes(self, engine: Engine, database_url: str) -> None:
        """A success 3 h old fails `--max-age 2h` (exit 1) and passes `--max-age 4h`."""
        sync_bytes(engine, payload([make_model()]))
        age_last_success(engine, timedelta(hours=3))
        report = status_json(database_url, "--max-age", "2h", expect=1)
        assert not report["healthy"]
        assert "3h ago" in report["problem"] and "2h" in report["problem"]
        assert status_json(database_url, "--max-age", "4h")["healthy"]
        assert "unhealthy" in status(database_url, "--max-age", "2h", expect=1)

    def test_failure_after_success(self, engine: Engine, database_url: str) -> None:
        """A failed run is the last run; the last success stays the earlier one."""
        first = sync_bytes(engine, payload([make_model()]))
        sync_bytes(engine, b"not json")
        report = status_json(database_url)
        assert report["last_run"]["status"] == "failed"
        assert report["last_run"]["error"]
        assert report["last_success"]["id"] == first.run_id

    def test_next_run_from_live_services_only(self, engine: Engine, database_url: str) -> None:
        """The next run comes from services with a fresh heartbeat; stale ones are flagged,
        stopped ones, and ones silent for more than a day, are not listed."""
        now = utcnow()
        add_service(engine, timedelta(seconds=5), next_run_at=now + timedelta(minutes=20))
        add_service(engine, timedelta(hours=2), pid=1, next_run_at=now + timedelta(minutes=1))
        add_service(engine, timedelta(0), pid=2, stopped_at=now)
        add_service(engine, timedelta(days=1, minutes=1), pid=3)
        report = status_json(database_url)
        assert [(s["pid"], s["stale"]) for s in report["services"]] == [(4242, False), (1, True)]
        assert report["next_run_at"] == report["services"][0]["next_run_at"]

    def test_human_output(self, engine: Engine, database_url: str) -> None:
        """The table form names the last run, the last success and the models available."""
        sync_bytes(engine, payload([make_model()]))
        add_service(engine, timedelta(seconds=1))
        output = status(database_url, "--max-age", "1d", expect=0)
        for label in ("last run:", "last success:", "models available:", "next run:", "health:"):
            assert label in output
        assert "host-a pid 4242 (running): every 1h" in output

    def test_bad_max_age_is_a_usage_error(self, database_url: str) -> None:
        """An unreadable duration exits 2."""
        assert "30s, 15m" in status(database_url, "--max-age", "soon", expect=2)

    def test_missing_database_fails(self, tmp_path: Path) -> None:
        """A missing SQLite file is a failure (exit 1), and is not created."""
        path = tmp_path / "none.db"
        result = CliRunner().invoke(cli, ["status", "--database-url", f"sqlite:///{path}"])
        assert result.exit_code == 1
        assert not path.exists()


class TestStatusReport:
    def test_report_is_read_only_and_uses_the_given_time(self, engine: Engine) -> None:
        """status_report only reads, and measures ages from the `now` it is given."""
        sync_bytes(engine, payload([make_model()]))
        with engine.connect() as connection:
            later = utcnow() + timedelta(hours=5)
            report = status_report(connection, max_age=timedelta(hours=1), now=later)
            assert connection.in_transaction() and not report["healthy"]
        assert report["last_success_age_seconds"] >= 5 * 3600 - 60

    def test_describe_age(self) -> None:
        """Ages read as people say them, rounded down."""
        assert [describe_age(s) for s in (0, 59, 60, 61, 3600, 3660, 86400, 90000)] == [
            "0s",
            "59s",
            "1m",
            "1m 1s",
            "1h",
            "1h 1m",
            "1d",
            "1d 1h",
        ]


def insforge(configured: bool, models: list[dict[str, Any]]) -> bytes:
    """An InsForge catalog whose one provider says whether it is configured."""
    entry = {"provider": "openrouter", "configured": configured, "models": models}
    return json.dumps({"text": [entry], "image": []}).encode()


class TestLoudFailures:
    def test_a_gateway_that_lost_its_key(self, engine: Engine, database_url: str) -> None:
        """A provider that says `configured: false` is a warning on every run; `status`
        shows since when, and fails once a provider that was configured has said so for
        longer than --max-age (or --max-unconfigured), although every sync succeeds."""
        now = utcnow()
        sync_bytes(engine, insforge(True, [make_model()]), observed_at=now - timedelta(hours=3))
        for hours in (2, 0):
            lost = sync_bytes(engine, insforge(False, []), observed_at=now - timedelta(hours=hours))
            assert lost.status == "succeeded"
            assert any("says it is not configured" in w for w in lost.warnings), lost.warnings
        report = status_json(database_url)
        (provider,) = report["providers"]
        assert (provider["name"], provider["configured"], provider["was_configured"]) == (
            "openrouter",
            False,
            True,
        )
        assert report["healthy"] and 7190 < provider["unconfigured_seconds"] < 7300
        out = status(database_url, expect=0)
        assert "openrouter: not configured since" in out and "it was configured before" in out
        unhealthy = status_json(database_url, "--max-age", "1h", expect=1)
        (problem,) = unhealthy["problems"]
        assert "provider openrouter has said it is not configured since" in problem
        assert "longer than 1h" in problem
        status(database_url, "--max-age", "3h", expect=0)
        status(database_url, "--max-age", "3h", "--max-unconfigured", "30m", expect=1)

    def test_a_streak_of_failures_is_loud(self, engine: Engine, database_url: str) -> None:
        """Three failed runs in a row after a success make `status` exit 1 without any
        flag, with the count, the first failure's time and the last error in full."""
        sync_bytes(engine, payload([make_model()]))
        long_error = "401 Unauthorized: " + "the key was revoked; " * 10 + "END"
        for _ in range(3):
            failed = sync_bytes(engine, b"not json")
            assert failed.status == "failed"
        with engine.begin() as connection:
            connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.id == failed.run_id)
                .values(error=long_error)
            )
        report = status_json(database_url, expect=1)
        failing = report["failing"]
        assert (failing["count"], failing["last_run_id"], failing["error"]) == (
            3,
            failed.run_id,
            long_error,
        )
        assert report["problems"] == [
            f"3 runs failed in a row since {failing['since']}; the last one (run"
            f" {failed.run_id}): {long_error}"
        ]
        out = status(database_url, expect=1)
        assert "3 runs in a row" in out and "END" in out  # the error in full, never cut
        status(database_url, "--max-failures", "4", expect=0)
        sync_bytes(engine, payload([make_model()]))
        assert status_json(database_url, expect=0)["failing"] is None
