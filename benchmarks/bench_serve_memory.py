"""Whether `catalog-etl serve` keeps its memory flat over thousands of ticks.

    python benchmarks/bench_serve_memory.py [--ticks 3000] [--backend sqlite|postgresql|both]
        [--hold 10] [--captures NAME,NAME,...] [--sample-every 25] [--warmup TICKS]
        [--tracemalloc] [--postgres-url URL]

Each backend runs in a fresh process of its own, so that the RSS measured is that backend's
alone. That process runs the real command, `catalog-etl serve --url ... --database-url ...
--notify ... --metrics-port ... --metrics-address 127.0.0.1 --log-format json` (the token in
CATALOG_ETL_API_TOKEN), through the CLI on its main thread: the same settings, SyncJob,
notifier thread, metrics and feed server, Service, APScheduler scheduler and worker thread,
heartbeats and services row as in production. One thing differs: the schedule (the
command's `_schedule` is swapped for this one). Instead of waiting for wall-clock ticks, its
trigger fires when the benchmark asks (`modify_job(next_run_time=now)`, the scheduler's own
wake-up), one tick as soon as the previous one is over, and each tick claims its own fire
time as its `tick_at`. Everything else a tick does is serve's own code: APScheduler hands
the run to the worker thread, the tick claims its tick, makes a fresh engine, checks the
schema, fetches over HTTP, applies, writes the outbox, logs, counts and disposes of the
engine; the notifier delivers; the main loop beats after every tick.

A ThreadingHTTPServer in a subprocess on 127.0.0.1 serves real OpenRouter captures
(tests/data/openrouter-daily), gzip-encoded as the API sends them, each for --hold requests
in turn: the first tick loads the catalog, one tick in --hold switches to the next capture
(models added, removed and returning, prices changed) and the others find nothing new. The
same server receives the notifications (a plain webhook, `--notify http://127.0.0.1:...`).

Every --sample-every ticks the benchmark scrapes /metrics and /feed.xml, then records the
process's RSS (/proc/self/status, as serve has it, no collection forced), then collects
garbage and counts the objects the collector tracks and (with --tracemalloc) the memory
Python has allocated: what is alive, cyclic garbage aside (the benchmark's own records add
one object per sample: 40 per 1000 ticks by default). The slopes are least-squares lines
through the samples from --warmup on, and for RSS also from the middle of the run on (what
is left once the allocator has settled). With --tracemalloc the lines whose allocations grew
most between the warm-up and the end are listed (tracemalloc slows ticks down and adds its
own memory: take RSS from a run without it). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine, case, func, select, text
from sqlalchemy.engine.default import DefaultDialect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import etl.cli.serve as serve_module  # noqa: E402
from etl.cli import cli  # noqa: E402
from etl.db.engine import make_engine  # noqa: E402
from etl.db.tables import sync_runs_table  # noqa: E402
from etl.service.job import JOB_ID  # noqa: E402
from etl.service.scheduler import Service  # noqa: E402
from etl.service.schedules import Schedule  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402

DAILY = ROOT / "tests" / "data" / "openrouter-daily"
CAPTURES = "2026-03-10T005840Z,2026-03-11T005951Z,2026-03-12T005709Z"
TOKEN = "bench-serve-memory-token"
TICK_TIMEOUT = 300.0
"""Seconds one tick may take before the benchmark gives up."""
START_TIMEOUT = 120.0
"""Seconds serve may take to start its scheduler."""

SERVER = r"""
import gzip, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

hold = int(sys.argv[1])
bodies = [open(path, "rb").read() for path in sys.argv[2:]]
lock = threading.Lock()
counts = {"catalog_requests": 0, "notifications": 0}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/stats":
            return self.answer(json.dumps(counts).encode())
        with lock:
            index = (counts["catalog_requests"] // hold) % len(bodies)
            counts["catalog_requests"] += 1
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            return self.answer(bodies[index], {"Content-Encoding": "gzip"})
        self.answer(gzip.decompress(bodies[index]))

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            counts["notifications"] += 1
        self.answer(b"{}")

    def answer(self, body, headers={}):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""
"""The catalog server (argv: hold, then the .json.gz captures served in turn), which also
receives the notifications (POST) and tells what it saw (GET /stats)."""


class OnDemand(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """Never due by itself (a day ahead, always): the benchmark makes the job due."""

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime:
        return now + timedelta(days=1)


class Exact(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """The schedule's plain trigger: the tick a fire time belongs to is that time itself,
    so that every tick claims a tick of its own, as consecutive hourly ticks do."""

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime:
        return now


def on_demand_schedule(zone: tzinfo = UTC) -> Schedule:
    return Schedule(
        OnDemand(), "on demand (bench_serve_memory)", timedelta(days=1), zone, Exact(), 0.0
    )


@dataclass
class Sample:
    tick: int
    rss_kib: int
    anon_kib: int
    """Anonymous memory (the heap); the rest of the RSS maps files (code, SQLite's -shm)."""
    objects: int
    traced_kib: int | None


@dataclass
class Outcome:
    backend: str
    ticks: int
    warmup: int
    sample_every: int
    seconds: float
    tick_ms_median: float
    tick_ms_p95: float
    tick_ms_early: float
    """Median tick of the tenth of the ticks that follows the warm-up..."""
    tick_ms_late: float
    """...and of the last tenth: does a tick get slower as the history grows?"""
    rss_before_kib: int
    """Once serve has started, before its first tick."""
    peak_rss_kib: int
    samples: list[Sample]
    runs: dict[str, int]
    runs_with_price_changes: int
    runs_writing_versions: int
    catalog_requests: int
    notifications: int
    scheduler_events: dict[str, int]
    scrapes: int
    scrape_failures: int
    engines_alive: int
    dialects_alive: int
    serve_exit: int | str | None
    grown: list[dict[str, Any]] = field(default_factory=list)


def memory() -> dict[str, int]:
    """This process's memory from /proc/self/status, in KiB: VmRSS, VmHWM (peak RSS),
    RssAnon, RssFile, RssShmem."""
    with open("/proc/self/status") as status:
        rows = (line.split() for line in status)
        return {row[0][:-1]: int(row[1]) for row in rows if row[0][:-1] in MEMORY_FIELDS}


MEMORY_FIELDS = frozenset({"VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"})


@contextlib.contextmanager
def catalog_server(captures: list[Path], hold: int) -> Iterator[str]:
    """The captures served in turn over loopback HTTP by a subprocess; yields its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(hold), *map(str, captures)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def database(backend: str, postgres_url: str) -> Iterator[str]:
    """A fresh database at the latest schema revision; yields its URL. PostgreSQL: a private
    schema, dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/serve.db"
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            yield url
        return
    schema = f"catalog_etl_bench_serve_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in postgres_url else "?"
        url = f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_on_demand(started: list[Service]) -> Iterator[None]:
    """`catalog-etl serve` as it is, but with the on-demand schedule, and telling
    ``started`` the Service it runs."""
    schedule, run_service = serve_module._schedule, serve_module._run_service

    def on_demand(*_: Any, **__: Any) -> Schedule:
        return on_demand_schedule()

    def run_and_tell(service: Any) -> int:
        started.append(service)
        return run_service(service)

    serve_module._schedule = on_demand
    serve_module._run_service = run_and_tell
    try:
        yield
    finally:
        serve_module._schedule, serve_module._run_service = schedule, run_service


EVENT_NAMES = {
    EVENT_JOB_EXECUTED: "executed",
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "max_instances",
}


class TickDriver:
    """Makes the service's job due, one tick at a time, and waits for it to be over."""

    def __init__(self, service: Service) -> None:
        self._done = threading.Event()
        self.events: Counter[str] = Counter()
        deadline = time.monotonic() + START_TIMEOUT
        # The running service's scheduler (a private attribute: Service offers no accessor).
        while (scheduler := getattr(service, "_scheduler", None)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start its scheduler in {START_TIMEOUT:g} s")
            time.sleep(0.01)
        self._scheduler: Any = scheduler
        scheduler.add_listener(self._on_event, sum(EVENT_NAMES))

    def _on_event(self, event: JobEvent) -> None:
        self.events[EVENT_NAMES.get(event.code, str(event.code))] += 1
        if event.code != EVENT_JOB_MAX_INSTANCES:
            self._done.set()

    def tick(self) -> None:
        self._done.clear()
        self._scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
        if not self._done.wait(TICK_TIMEOUT):
            raise RuntimeError(f"a tick did not finish within {TICK_TIMEOUT:g} s")


class Watcher:
    """The benchmark's thread: waits for serve to start, drives its ticks, samples the
    process's memory, then stops serve as SIGTERM would."""

    def __init__(self, args: argparse.Namespace, warmup: int, metrics_port: int) -> None:
        self.args, self.warmup, self.metrics_port = args, warmup, metrics_port
        self.samples: list[Sample] = []
        self.durations = array("d", bytes(8 * args.ticks))  # no allocation per tick
        self.rss_before = 0
        self.seconds = 0.0
        self.scrapes = self.scrape_failures = 0
        self.events: Counter[str] = Counter()
        self.grown: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.progress = sys.stderr

    def run(self, started: list[Service]) -> None:
        service: Service | None = None
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not started:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start in {START_TIMEOUT:g} s")
                time.sleep(0.01)
            service = started[0]
            self._drive(TickDriver(service))
        except BaseException as error:  # reported by the main thread once serve returns
            self.error = error
        finally:
            if service is not None:
                service.request_stop()

    def _drive(self, driver: TickDriver) -> None:
        args, baseline = self.args, None
        gc.collect()
        self.rss_before = memory()["VmRSS"]
        started = time.perf_counter()
        for tick in range(1, args.ticks + 1):
            begun = time.perf_counter()
            driver.tick()
            self.durations[tick - 1] = time.perf_counter() - begun
            if tick % args.sample_every == 0 or tick in (1, self.warmup, args.ticks):
                self._sample(tick)
            if tick == self.warmup and args.tracemalloc:
                baseline = tracemalloc.take_snapshot()
            if tick % max(args.ticks // 10, 1) == 0:
                rss = self.samples[-1].rss_kib / 1024
                print(f"{args.backend}: tick {tick}, RSS {rss:.1f} MiB", file=self.progress)
        self.seconds = time.perf_counter() - started
        self.events = driver.events
        if baseline is not None:
            self.grown = top_growth(baseline, tracemalloc.take_snapshot())

    def _sample(self, tick: int) -> None:
        for path in ("/metrics", "/feed.xml"):
            url = f"http://127.0.0.1:{self.metrics_port}{path}"
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:
                    answer.read()
            except (urllib.error.URLError, OSError):
                self.scrape_failures += 1
            self.scrapes += 1
        now = memory()  # as serve has it: no collection forced
        gc.collect()  # what is alive, cyclic garbage aside
        objects = len(gc.get_objects())
        traced = tracemalloc.get_traced_memory()[0] // 1024 if self.args.tracemalloc else None
        self.samples.append(Sample(tick, now["VmRSS"], now["RssAnon"], objects, traced))


def run_statistics(database_url: str) -> tuple[dict[str, int], int, int]:
    """Runs by status, and how many changed prices and wrote versions."""
    runs = sync_runs_table
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    runs.c.status,
                    func.count(),
                    func.sum(case((runs.c.price_changes > 0, 1), else_=0)),
                    func.sum(case((runs.c.versions_written > 0, 1), else_=0)),
                ).group_by(runs.c.status)
            ).all()
    finally:
        engine.dispose()
    return (
        {status: count for status, count, _, _ in rows},
        sum(int(priced or 0) for _, _, priced, _ in rows),
        sum(int(written or 0) for _, _, _, written in rows),
    )


def measure(args: argparse.Namespace) -> Outcome:
    """Run `catalog-etl serve` for --ticks ticks in this process and watch its memory."""
    captures = [DAILY / f"{name.strip()}.json.gz" for name in args.captures.split(",")]
    warmup = args.warmup if args.warmup is not None else max(args.ticks // 10, 1)
    if args.tracemalloc:
        tracemalloc.start()
    with (
        catalog_server(captures, args.hold) as base,
        database(args.backend, args.postgres_url) as database_url,
        tempfile.TemporaryDirectory() as folder,
    ):
        metrics_port = free_loopback_port()
        command = [
            "serve",
            f"--url={base}/api/v1/models",
            f"--database-url={database_url}",
            f"--notify={base}/hook",
            f"--metrics-port={metrics_port}",
            "--metrics-address=127.0.0.1",
            "--log-format=json",
        ]
        os.environ["CATALOG_ETL_API_TOKEN"] = TOKEN
        watcher = Watcher(args, warmup, metrics_port)
        started: list[Service] = []
        watching = threading.Thread(target=watcher.run, args=(started,), name="bench")
        log = Path(folder) / "serve.log"
        with serve_on_demand(started), log.open("w") as stderr:
            watching.start()
            sys.stderr = stderr  # serve logs there (JSON lines), as to its stderr
            try:
                exit_code: int | str | None = cli.main(
                    command, prog_name="catalog-etl", standalone_mode=False
                )
            except SystemExit as stop:
                exit_code = stop.code
            finally:
                sys.stderr = watcher.progress
            watching.join()
        if watcher.error is not None or exit_code != 0:
            tail = log.read_text().splitlines()[-20:]
            print("\n".join(["serve's last log lines:", *tail]), file=sys.stderr)
            raise RuntimeError(f"serve exited with {exit_code!r}") from watcher.error
        engines, dialects = alive()
        runs, priced, written = run_statistics(database_url)
        with urllib.request.urlopen(f"{base}/stats", timeout=10) as answer:
            seen = json.load(answer)
    durations, tenth = watcher.durations, max(args.ticks // 10, 1)
    ordered = sorted(durations)
    return Outcome(
        backend=args.backend,
        ticks=args.ticks,
        warmup=warmup,
        sample_every=args.sample_every,
        seconds=watcher.seconds,
        tick_ms_median=statistics.median(ordered) * 1000,
        tick_ms_p95=ordered[int(len(ordered) * 0.95) - 1] * 1000,
        tick_ms_early=statistics.median(durations[warmup : warmup + tenth] or durations) * 1000,
        tick_ms_late=statistics.median(durations[-tenth:]) * 1000,
        rss_before_kib=watcher.rss_before,
        peak_rss_kib=memory()["VmHWM"],
        samples=watcher.samples,
        runs=runs,
        runs_with_price_changes=priced,
        runs_writing_versions=written,
        catalog_requests=seen["catalog_requests"],
        notifications=seen["notifications"],
        scheduler_events=dict(watcher.events),
        scrapes=watcher.scrapes,
        scrape_failures=watcher.scrape_failures,
        engines_alive=engines,
        dialects_alive=dialects,
        serve_exit=exit_code,
        grown=watcher.grown,
    )


def alive() -> tuple[int, int]:
    """SQLAlchemy engines and dialects still in memory (each tick makes one of each)."""
    gc.collect()
    objects = gc.get_objects()
    engines = sum(isinstance(thing, Engine) for thing in objects)
    return engines, sum(isinstance(thing, DefaultDialect) for thing in objects)


def top_growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, limit: int = 12
) -> list[dict[str, Any]]:
    """The source lines whose live allocations grew most between two snapshots."""
    noise = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    changes = after.filter_traces(noise).compare_to(before.filter_traces(noise), "lineno")
    grown = [change for change in changes if change.size_diff > 0][:limit]
    return [
        {
            "where": f"{change.traceback[0].filename}:{change.traceback[0].lineno}",
            "size_diff": change.size_diff,
            "count_diff": change.count_diff,
        }
        for change in grown
    ]


def slope(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares slope of y over x, and its standard error (0 with under 3 points)."""
    if len(points) < 2:
        return 0.0, 0.0
    xs, ys = [float(x) for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    value = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if len(points) < 3:
        return value, 0.0
    residuals = sum((y - mean_y - value * (x - mean_x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return value, (residuals / (len(points) - 2) / sxx) ** 0.5


def run_in_fresh_process(args: argparse.Namespace, backend: str) -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "outcome.json"
        command = [sys.executable, __file__, "--backend", backend, "--child", str(out)]
        for name in ("ticks", "hold", "captures", "sample_every", "warmup", "postgres_url"):
            value = getattr(args, name)
            if value is not None:
                command += [f"--{name.replace('_', '-')}", str(value)]
        if args.tracemalloc:
            command.append("--tracemalloc")
        subprocess.run(command, check=True)
        data = json.loads(out.read_text())
    data["samples"] = [Sample(**sample) for sample in data["samples"]]
    return Outcome(**data)


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def per_thousand(samples: list[Sample], value: Callable[[Sample], float | None]) -> str:
    """The least-squares slope of ``value`` over the ticks, per 1000 ticks, ± its error."""
    rate, error = slope([(sample.tick, float(value(sample) or 0)) for sample in samples])
    return f"{rate * 1000:+,.0f} ± {error * 1000:,.0f}"


def report(outcomes: list[Outcome]) -> None:
    first = outcomes[0]
    print(
        f"\n{first.ticks:,} ticks of `serve`; slopes fitted from tick {first.warmup:,} (the"
        f" warm-up before it excluded) over samples every {first.sample_every} ticks\n"
    )
    print(
        "| backend | ticks | succeeded | changed prices | wrote versions | other runs"
        " | notifications | wall | tick median (p95) | median after warm-up → last tenth |"
    )
    print("|---|" + "---:|" * 9)
    for o in outcomes:
        other = ", ".join(f"{n} {s}" for s, n in o.runs.items() if s != "succeeded") or "none"
        print(
            f"| {o.backend} | {o.ticks:,} | {o.runs.get('succeeded', 0):,} |"
            f" {o.runs_with_price_changes:,} | {o.runs_writing_versions:,} | {other} |"
            f" {o.notifications:,} | {o.seconds:.0f} s |"
            f" {o.tick_ms_median:.0f} ms ({o.tick_ms_p95:.0f} ms) |"
            f" {o.tick_ms_early:.0f} ms → {o.tick_ms_late:.0f} ms |"
        )
    traced = any(s.traced_kib is not None for o in outcomes for s in o.samples)
    print(
        "\n| backend | RSS before the first tick | after tick 1 | after warm-up | at the end"
        " | peak | RSS slope (KiB / 1000 ticks) | of which anonymous | over the last half"
        " | objects after warm-up"
        " → end | objects / 1000 ticks |" + (" traced KiB / 1000 ticks |" if traced else "")
    )
    print("|---|" + "---:|" * (10 + traced))
    for o in outcomes:
        after = [s for s in o.samples if s.tick >= o.warmup]
        line = (
            f"| {o.backend} | {mib(o.rss_before_kib)} | {mib(o.samples[0].rss_kib)} |"
            f" {mib(after[0].rss_kib)} | {mib(o.samples[-1].rss_kib)} | {mib(o.peak_rss_kib)} |"
            f" {per_thousand(after, lambda s: s.rss_kib)} |"
            f" {per_thousand(after, lambda s: s.anon_kib)} |"
            f" {per_thousand([s for s in after if s.tick >= o.ticks // 2], lambda s: s.rss_kib)} |"
            f" {after[0].objects:,} → {o.samples[-1].objects:,} |"
            f" {per_thousand(after, lambda s: s.objects)} |"
        )
        if traced:
            line += f" {per_thousand(after, lambda s: s.traced_kib)} |"
        print(line)
    print("\n| tick | " + " | ".join(f"{o.backend} RSS" for o in outcomes) + " |")
    print("|---:|" + "---:|" * len(outcomes))
    step = max(first.ticks // 10, 1)
    for tick in sorted({1, first.warmup, first.ticks, *range(step, first.ticks + 1, step)}):
        cells = [next((mib(s.rss_kib) for s in o.samples if s.tick == tick), "") for o in outcomes]
        if any(cells):
            print(f"| {tick:,} | " + " | ".join(cells) + " |")
    for o in outcomes:
        print(
            f"\n{o.backend}: {o.catalog_requests:,} catalog requests; {o.scrapes:,} scrapes of"
            f" /metrics and /feed.xml ({o.scrape_failures} failed); after the last tick"
            f" {o.engines_alive} SQLAlchemy engines and {o.dialects_alive} dialects are still"
            " in memory"
        )
        problems = {k: v for k, v in o.scheduler_events.items() if k != "executed"}
        if problems:
            print(f"\n{o.backend}: scheduler events other than executed: {problems}")
        if o.grown:
            print(f"\n{o.backend}: allocations grown most from tick {o.warmup:,} to the end:\n")
            print("| where | grown | blocks |")
            print("|---|---:|---:|")
            for change in o.grown:
                print(
                    f"| {shorten(change['where'])} | {change['size_diff'] / 1024:+,.1f} KiB |"
                    f" {change['count_diff']:+,} |"
                )


def shorten(where: str) -> str:
    """A file name relative to the repository or to the entry of sys.path it comes from."""
    bases = sorted((str(ROOT), *(entry for entry in sys.path if entry)), key=len, reverse=True)
    for base in bases:
        if where.startswith(base.rstrip("/") + "/"):
            return where[len(base.rstrip("/")) + 1 :]
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=3000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--hold", type=int, default=10, help="requests each capture is served for (default 10)"
    )
    parser.add_argument(
        "--captures",
        default=CAPTURES,
        help="captures in tests/data/openrouter-daily served in turn, comma-separated",
    )
    parser.add_argument("--sample-every", type=int, default=25)
    parser.add_argument("--warmup", type=int, help="ticks before the slope (default ticks/10)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        Path(args.child).write_text(json.dumps(asdict(measure(args))))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report([run_in_fresh_process(args, backend) for backend in backends])


if __name__ == "__main__":
    main()
