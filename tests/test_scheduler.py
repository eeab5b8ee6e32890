"""The scheduler of `serve`, in process: durations, triggers, job settings, ticks that never
raise, the interrupt that rolls a sync back, and migrations under the sync lock."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, event, select, text
from sqlalchemy.engine import make_url

from etl.db.engine import make_engine
from etl.db.tables import models_table, sync_runs_table
from etl.pipeline import sync_bytes
from etl.service.engines import SyncInterrupted, interruptible, migrate_database
from etl.service.job import JOB_ID, build_scheduler
from etl.service.metrics import Metrics
from etl.service.scheduler import Service, ServiceConfig, SyncJob
from etl.service.schedules import (
    EveryTrigger,
    ScheduleError,
    cron,
    every,
    parse_timezone,
)
from etl.store.migrate import schema_state
from etl.times import TimeFormatError, format_duration, parse_duration
from tests.conftest import POSTGRES_URL
from tests.helpers import make_model, payload


def at(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value).replace(tzinfo=UTC)


def fire_times(schedule: Any, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of a schedule's trigger after ``start``, in UTC."""
    times: list[datetime] = []
    previous = None
    now = start
    for _ in range(count):
        moment = schedule.trigger.get_next_fire_time(previous, now)
        times.append(moment.astimezone(UTC))
        previous, now = moment, moment + timedelta(microseconds=1)
    return times


class TestDurations:
    @pytest.mark.parametrize(
        ("text_value", "seconds"),
        [
            ("30s", 30),
            ("15m", 900),
            ("1h", 3600),
            ("1d", 86400),
            ("1w", 604800),
            ("1h30m", 5400),
            ("90", 90),
            (" 2H ", 7200),
            ("1d 12h", 129600),
        ],
    )
    def test_reads_units_and_combinations(self, text_value: str, seconds: int) -> None:
        """s, m, h, d, w, combinations and bare seconds are read, case-insensitively."""
        assert parse_duration(text_value) == timedelta(seconds=seconds)

    @pytest.mark.parametrize("text_value", ["", "1x", "h", "1.5h", "-1h", "1h and more"])
    def test_refuses_anything_else(self, text_value: str) -> None:
        """Text that is not whole units fails with a message giving examples."""
        with pytest.raises(TimeFormatError, match="30s, 15m"):
            parse_duration(text_value)

    def test_format_reads_back(self) -> None:
        """format_duration writes the shortest text parse_duration reads back."""
        for seconds in (1, 59, 60, 3600, 5400, 86400, 90061):
            text_value = format_duration(timedelta(seconds=seconds))
            assert parse_duration(text_value) == timedelta(seconds=seconds)
        assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"

    def test_time_zones(self) -> None:
        """UTC and IANA names are accepted; unknown names are refused with a hint."""
        assert parse_timezone("UTC") is UTC
        assert str(parse_timezone("Europe/Paris")) == "Europe/Paris"
        with pytest.raises(ScheduleError, match="IANA"):
            parse_timezone("Mars/Olympus")


class TestEvery:
    def test_ticks_on_multiples_of_the_interval(self) -> None:
        """`every 15m` ticks at :00, :15, :30, :45 UTC, whenever the service started."""
        times = fire_times(every(timedelta(minutes=15)), at("2026-03-02T10:07:31"), 3)
        assert times == [at(f"2026-03-02T10:{minute}:00") for minute in ("15", "30", "45")]

    def test_run_now_does_not_shift_the_alignment(self) -> None:
        """After an off-schedule run (--run-now), the next tick is the next aligned one."""
        trigger = EveryTrigger(3600)
        started = at("2026-03-02T10:07:31")
        assert trigger.get_next_fire_time(started, started) == at("2026-03-02T11:00:00")

    def test_jitter_stays_within_bounds_and_does_not_drift(self) -> None:
        """Each tick is its slot plus at most the jitter; jitter never accumulates."""
        schedule = every(timedelta(minutes=1), jitter=timedelta(seconds=20))
        times = fire_times(schedule, at("2026-03-02T10:00:30"), 50)
        for index, moment in enumerate(times):
            slot = at("2026-03-02T10:01:00") + timedelta(minutes=index)
            assert slot <= moment <= slot + timedelta(seconds=20)
        assert schedule.description == "every 1m, jitter 20s"

    def test_refuses_sub_second_and_oversized_jitter(self) -> None:
        """Intervals under 1 s, and jitter as long as the interval, are refused."""
        with pytest.raises(ScheduleError, match="at least 1s"):
            every(timedelta(0))
        with pytest.raises(ScheduleError, match="jitter"):
            every(timedelta(minutes=1), jitter=timedelta(minutes=1))

    def test_misfire_grace_is_one_period(self) -> None:
        """The misfire grace time is the interval, and at least 1 s."""
        assert every(timedelta(hours=1)).misfire_grace_time == 3600
        assert every(timedelta(seconds=1)).misfire_grace_time == 1


class TestCron:
    def test_weekdays_are_numbered_as_in_cron(self) -> None:
        """`1-5` is Monday to Friday (APScheduler 3 alone would read Tuesday to Saturday)."""
        schedule = cron("0 9 * * 1-5")
        times = fire_times(schedule, at("2026-03-01T00:00:00"), 5)  # a Sunday
        assert [t.strftime("%a") for t in times] == ["Mon", "Tue", "Wed", "Thu", "Fri"]

    @pytest.mark.parametrize("weekday", ["0", "7", "sun", "SUN", "sunday"])
    def test_sunday_is_0_7_or_its_name(self, weekday: str) -> None:
        """0, 7 and the name all mean Sunday."""
        (moment,) = fire_times(cron(f"0 0 * * {weekday}"), at("2026-03-02T00:00:00"), 1)
        assert moment == at("2026-03-08T00:00:00")

    def test_weekday_steps_follow_cron(self) -> None:
        """`*/2` is Sunday, Tuesday, Thursday, Saturday, as cron expands 0-7/2."""
        times = fire_times(cron("0 0 * * */2"), at("2026-03-01T00:00:00"), 4)
        assert [t.strftime("%a") for t in times] == ["Sun", "Tue", "Thu", "Sat"]

    def test_day_of_month_or_day_of_week(self) -> None:
        """With both restricted, cron fires when either matches: the 13th and Fridays."""
        times = fire_times(cron("0 0 13 * 5"), at("2026-03-01T00:00:00"), 4)
        assert times == [at(f"2026-03-{day}") for day in ("06", "13", "20", "27")]

    def test_time_zone(self) -> None:
        """09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer."""
        schedule = cron("0 9 * * *", timezone=parse_timezone("Europe/Paris"))
        (winter,) = fire_times(schedule, at("2026-01-10T00:00:00"), 1)
        (summer,) = fire_times(schedule, at("2026-07-10T00:00:00"), 1)
        assert (winter.hour, summer.hour) == (8, 7)
        assert schedule.description == "cron 0 9 * * * (Europe/Paris)"

    def test_macros_and_period(self) -> None:
        """@hourly is `0 * * * *`; the misfire grace time is the gap between two ticks."""
        schedule = cron("@hourly")
        assert fire_times(schedule, at("2026-03-02T10:07:00"), 1) == [at("2026-03-02T11:00:00")]
        assert schedule.misfire_grace_time == 3600
        assert cron("17 * * * *").description == "cron 17 * * * * (UTC)"

    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("* * * *", "expected 5"),
            ("* * * * * *", "expected 5"),
            ("61 * * * *", "invalid cron expression"),
            ("0 0 * * 8", "invalid day of week"),
            ("0 0 * * 5-1", "invalid range"),
            ("0 0 * * */0", "invalid step"),
        ],
    )
    def test_refuses_bad_lines(self, expression: str, message: str) -> None:
        """A malformed line fails with a message saying what is wrong."""
        with pytest.raises(ScheduleError, match=message):
            cron(expression)


class TestJob:
    def test_one_job_with_deliberate_settings(self) -> None:
        """One job, fixed id, max_instances=1, coalesce, misfire grace = one period."""
        scheduler = build_scheduler(every(timedelta(minutes=5)), lambda: None)
        scheduler.start(paused=True)
        try:
            (job,) = scheduler.get_jobs()
            assert job.id == JOB_ID
            assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 300)
            assert job.next_run_time.timestamp() % 300 == 0
        finally:
            scheduler.shutdown(wait=False)

    def test_run_now_schedules_an_immediate_run(self) -> None:
        """--run-now makes the first run due at once."""
        scheduler = build_scheduler(every(timedelta(hours=1)), lambda: None, run_now=True)
        scheduler.start(paused=True)
        try:
            job = scheduler.get_job(JOB_ID)
            assert job.next_run_time <= datetime.now(UTC)
        finally:
            scheduler.shutdown(wait=False)


@pytest.fixture
def stop_at_first_model(engine: Engine) -> Iterator[threading.Event]:
    """An interrupt event that the sync itself sets when it inserts its provider, its first
    write: as if the grace period ran out in the middle of applying."""
    interrupt = threading.Event()
    interruptible(engine, interrupt, "serve stopped: rolled back")

    def set_interrupt(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO providers"):
            interrupt.set()

    event.listen(engine, "before_cursor_execute", set_interrupt)
    yield interrupt
    event.remove(engine, "before_cursor_execute", set_interrupt)


class TestInterrupt:
    def test_interrupt_rolls_back_and_records_failed(
        self, engine: Engine, stop_at_first_model: threading.Event
    ) -> None:
        """Past the grace period the sync's transaction rolls back at its next statement;
        the run is recorded `failed` with the reason and no model is written."""
        result = sync_bytes(engine, payload([make_model(f"a/m{i}") for i in range(5)]))
        assert (result.status, result.error) == ("failed", "serve stopped: rolled back")
        with engine.connect() as connection:
            assert connection.execute(
                select(sync_runs_table.c.status, sync_runs_table.c.error)
            ).all() == [("failed", "serve stopped: rolled back")]
            assert connection.execute(select(models_table.c.id)).all() == []

    def test_interrupt_fires_once(self, engine: Engine) -> None:
        """Only the first write statement after the interrupt fails: a later sync works."""
        interrupt = threading.Event()
        interrupt.set()
        interruptible(engine, interrupt, "stop")
        assert sync_bytes(engine, payload([make_model()])).status == "failed"
        assert sync_bytes(engine, payload([make_model()])).ok
        with engine.connect() as connection:
            statuses = connection.execute(
                select(sync_runs_table.c.status).order_by(sync_runs_table.c.id)
            ).all()
        assert statuses == [("failed",), ("succeeded",)]


def _no_hard_exit(code: int) -> None:
    raise AssertionError(f"the service tried to exit the process with {code}")


def service_for(database_url: str, url: str = "http://127.0.0.1:9/none", **options: Any) -> Service:
    config = ServiceConfig(
        database_url=database_url,
        schedule=every(timedelta(hours=1)),
        job=SyncJob(url=url),
        **options,
    )
    return Service(config, hard_exit=_no_hard_exit)


def sync_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.fields  # type: ignore[attr-defined]
        for record in caplog.records
        if getattr(record, "fields", {}).get("event") == "sync"
    ]


class TestTick:
    def test_success_is_logged_with_counts_and_counted(
        self, database_url: str, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A tick syncs, logs one event with run id, status, counts and duration, and
        counts it in the metrics."""
        httpserver.expect_request("/m").respond_with_data(
            payload([make_model()]), content_type="application/json"
        )
        metrics = Metrics()
        (runner,) = service_for(database_url, httpserver.url_for("/m"), metrics=metrics).runners
        with caplog.at_level(logging.INFO, "etl.serve"):
            runner.tick()
        (fields,) = sync_events(caplog)
        assert (fields["status"], fields["added"], fields["recorded"]) == ("succeeded", 1, True)
        assert fields["run_id"] and fields["duration_seconds"] >= 0
        assert b'catalog_etl_sync_runs_total{status="succeeded"} 1.0' in metrics.exposition()

    def test_database_down_is_logged_not_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        """A tick whose database refuses connections logs an unrecorded failure and returns."""
        closed = "postgresql://postgres@127.0.0.1:9/nowhere"
        with caplog.at_level(logging.INFO, "etl.serve"):
            service_for(closed).runners[0].tick()
        (fields,) = sync_events(caplog)
        assert (fields["status"], fields["recorded"]) == ("failed", False)
        assert "database" in fields["error"]

    def test_internal_error_is_logged_not_raised(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bug in a sync is logged with its traceback; the tick still returns."""
        (runner,) = service_for(database_url).runners

        def broken(_engine: Engine) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(runner, "_sync", broken)
        with caplog.at_level(logging.INFO, "etl.serve"):
            runner.tick()
        (record,) = [r for r in caplog.records if r.exc_info]
        assert "internal error" in record.getMessage()

    def test_a_tick_after_stop_does_nothing(self, database_url: str) -> None:
        """A tick that starts after the stop request syncs nothing."""
        service = service_for(database_url)
        service.request_stop()
        (runner,) = service.runners
        runner.tick()
        assert runner.ticks == 0

    def test_fetch_pause_is_cut_by_a_stop_request(self, database_url: str) -> None:
        """The pause between fetch retries ends at the first stop request: only an apply
        gets the grace period."""
        service = service_for(database_url)
        service.request_stop()
        with pytest.raises(SyncInterrupted, match="abandoned between retries"):
            service.runners[0]._sleep(60)


class TestServiceInProcess:
    def test_run_ticks_and_stops_cleanly(self, database_url: str, httpserver: HTTPServer) -> None:
        """run() serves with --run-now, records its heartbeat, and returns 0 when asked to stop."""
        httpserver.expect_request("/m").respond_with_data(
            payload([make_model()]), content_type="application/json"
        )
        service = service_for(database_url, httpserver.url_for("/m"), run_now=True)
        outcome: list[int] = []
        thread = threading.Thread(target=lambda: outcome.append(service.run(handle_signals=False)))
        thread.start()
        engine = make_engine(database_url)
        try:
            for _ in range(100):
                with engine.connect() as connection:
                    if connection.execute(select(sync_runs_table.c.status)).first():
                        break
                threading.Event().wait(0.05)
            service.request_stop()
            thread.join(timeout=20)
            assert outcome == [0]
            with engine.connect() as connection:
                assert connection.execute(select(sync_runs_table.c.status)).scalars().all() == [
                    "succeeded"
                ]
                stopped = connection.execute(text("SELECT stopped_at FROM services")).all()
            assert len(stopped) == 1 and stopped[0][0] is not None
        finally:
            engine.dispose()


@pytest.fixture
def empty_postgres_schema(postgres_schema_url: str) -> Iterator[str]:
    """The URL of a brand-new, empty PostgreSQL schema (no tables)."""
    schema = f"catalog_etl_fresh_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


class TestMigrate:
    def test_replicas_migrating_together_take_turns(self, empty_postgres_schema: str) -> None:
        """Two replicas starting with --migrate on an empty PostgreSQL schema both succeed:
        the second waits for the first's lock, then finds nothing to do."""
        errors: list[BaseException] = []

        def migrate() -> None:
            engine = make_engine(empty_postgres_schema)
            try:
                migrate_database(engine)
            except BaseException as error:
                errors.append(error)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=migrate) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        engine = make_engine(empty_postgres_schema)
        assert schema_state(engine).up_to_date
        engine.dispose()

    def test_sqlite_file_is_migrated_under_its_lock_file(self, tmp_path: Any) -> None:
        """On SQLite the migration holds the lock file beside the database."""
        engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
        assert migrate_database(engine).up_to_date
        assert (tmp_path / "new.db.lock").exists()
        engine.dispose()
