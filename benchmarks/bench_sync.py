"""Sync benchmarks: catalog-etl side by side with parsing the payload (the floor) and with
dlt's scd2 merge (a baseline), on synthetic catalogs and on the real daily captures, on
SQLite and PostgreSQL. Writes benchmarks/RESULTS.md.

    pip install -e '.[bench]'                     # dlt, for --with-dlt
    python benchmarks/bench_sync.py --with-dlt     # the full run (1.5 to 3 hours)
    python benchmarks/bench_sync.py --sizes 400 --repeat 1 --output /tmp/quick.md

Cases, for each size (--sizes, default 400, 10,000 and 100,000 models) and each database:
  first-load   one catalog into an empty database (schema already created)
  no-op        the same payload again, observed a day later: nothing changes
  change-day   the next day's catalog: 2% of the models change price, 1% are added and
               1% removed (benchmarks/synthetic.py)
  backfill     60 daily snapshot files into an empty database, in one backfill
and the same four on the real captures in tests/data/openrouter-daily (about 370 models; the
backfill takes all 63), plus ``catalog-etl sync --file`` of a real catalog as a whole process,
with the start-up measured on its own.

Every measured run is a fresh process: its time is the operation alone (measured inside the
process, after imports; the payload already read for single-payload cases, read inside the
operation for backfills), and also the whole process as the parent sees it; its peak RSS is
the process's own high-water mark (``wait4``). Set-up (the load a no-op resync follows) runs
in a process of its own before it. Each repeat starts from a fresh database: a SQLite file in
a temporary folder or a PostgreSQL schema of its own, dropped afterwards. A process that
exceeds --timeout seconds or --max-rss-gib of memory is killed (its PostgreSQL sessions
too) and recorded as not finished; larger sizes of that case are then skipped.

Baselines, measured in the same run on the same payloads: ``json.loads`` and
``orjson.loads`` of the payload (the floor), and with --with-dlt dlt's ``scd2`` merge of the
same model objects into the same database server (benchmarks/dlt_baseline.py).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAILY = ROOT / "tests" / "data" / "openrouter-daily"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_SIZES = (400, 10_000, 100_000)
CASES = ("first-load", "no-op", "change-day", "backfill")
BACKENDS = ("sqlite", "postgresql")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCHEMA_PREFIX = "bsync_"

# Targets of the issue. The parse ratios are judged from 10,000 models up: below that, fixed
# costs (connecting, a transaction, a run row) are most of the time, and the small case has
# its own target (the whole-process CLI sync).
RATIO_TARGETS = {"no-op": 2.0, "first-load": 4.0, "change-day": 4.0}
RATIO_MIN_MODELS = 10_000
DLT_SPEEDUP = 10.0
RSS_TARGET = 1.5
RSS_MODELS = 100_000
CLI_TARGET_S = 0.6
LINEAR_TOLERANCE = 1.5
"""Linear growth: the cost per model at the largest size is at most this times that at the
next size down."""


# --- the worker: one measured operation in a fresh process -------------------------------


def _rss_kib(status: Path = Path("/proc/self/status"), key: str = "VmRSS") -> int:
    """Resident memory (``VmRSS``) or its peak (``VmHWM``) of a process, in KiB."""
    for line in status.read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one operation described by ``spec``; return its timings and counts."""
    started = time.perf_counter()
    tool = spec["tool"]
    out: dict[str, Any] = {}
    if tool in ("json", "orjson"):
        parse = _parser(tool)
        out["import_s"] = time.perf_counter() - started
        out["op_s"] = _parse_files(parse, [Path(p) for p in spec["files"]])
        return out

    sys.path.insert(0, str(ROOT))
    # etl.ingest.validate (pydantic) is imported on first use by a sync; here it counts as import
    # time, measured apart, as it always was.
    etl_modules = ["etl.pipeline", "etl.backfill", "etl.validate"]
    modules = etl_modules if tool == "etl" else ["benchmarks.dlt_baseline"]
    for module in modules:
        importlib.import_module(module)
    out["import_s"] = time.perf_counter() - started
    out["rows_before"] = _count_rows(spec)
    run = _etl_operation if tool == "etl" else _dlt_operation
    out.update(run(spec))
    out["rows_after"] = _count_rows(spec)
    return out


def _parser(tool: str) -> Any:
    if tool == "orjson":
        import orjson

        return orjson.loads
    return json.loads


def _parse_files(parse: Any, files: list[Path]) -> float:
    """Seconds to parse every file, one at a time; reading counts when there are several
    (a backfill reads its files too)."""
    total = 0.0
    for path in files:
        if len(files) == 1:
            raw = path.read_bytes()
            start = time.perf_counter()
        else:
            start = time.perf_counter()
            raw = path.read_bytes()
        document = parse(raw)
        total += time.perf_counter() - start
        del document, raw
    return total


def _etl_operation(spec: dict[str, Any]) -> dict[str, Any]:
    from etl.backfill import backfill
    from etl.db.engine import make_engine
    from etl.ingest.snapshots import file_snapshots
    from etl.pipeline import sync_bytes

    engine = make_engine(spec["etl_url"])
    out: dict[str, Any] = {}
    if spec["action"] == "load":
        raw = Path(spec["payload"]).read_bytes()
        out["rss_before_op_kib"] = _rss_kib()
        start = time.perf_counter()
        result = sync_bytes(
            engine,
            raw,
            source=spec["payload"],
            observed_at=datetime.fromisoformat(spec["observed_at"]),
        )
        out["op_s"] = time.perf_counter() - start
        if not result.ok:
            raise RuntimeError(f"sync {result.status}: {result.error}")
        out["counts"] = {
            k: getattr(result, k)
            for k in ("models_seen", "added", "removed", "returned", "versions_written")
        }
        out["counts"]["price_changes"] = result.price_changes
        out["warnings"] = len(result.warnings)
    else:
        out["rss_before_op_kib"] = _rss_kib()
        start = time.perf_counter()
        report = backfill(engine, file_snapshots([spec["snapshots"]]))
        out["op_s"] = time.perf_counter() - start
        if report.failed or report.held:
            raise RuntimeError(f"backfill failed: {(report.failed + report.held)[:1]}")
        out["counts"] = {
            k: getattr(report, k)
            for k in ("applied", "versions_written", "price_rows_written", "rederived")
        }
    engine.dispose()
    return out


def _dlt_operation(spec: dict[str, Any]) -> dict[str, Any]:
    import orjson

    from benchmarks import dlt_baseline
    from etl.ingest.snapshots import time_from_name

    def pipeline() -> Any:
        return dlt_baseline.make_pipeline(
            spec["backend"],
            folder=Path(spec["dlt_folder"]),
            sqlite_path=Path(spec["dlt_sqlite"]),
            postgres_url=spec["postgres_url"],
            dataset=spec["dlt_dataset"],
        )

    out: dict[str, Any] = {}
    if spec["action"] == "load":
        raw = Path(spec["payload"]).read_bytes()
        out["rss_before_op_kib"] = _rss_kib()
        start = time.perf_counter()
        runner = pipeline()
        models = dlt_baseline.models_of(orjson.loads(raw))
        dlt_baseline.load(runner, models, datetime.fromisoformat(spec["observed_at"]))
        out["op_s"] = time.perf_counter() - start
        out["phases"] = dlt_baseline.phases(runner)
    else:
        files = sorted(Path(spec["snapshots"]).glob("*.json"))
        out["rss_before_op_kib"] = _rss_kib()
        start = time.perf_counter()
        runner = pipeline()
        for path in files:
            observed_at = time_from_name(path.name)
            assert observed_at is not None
            models = dlt_baseline.models_of(orjson.loads(path.read_bytes()))
            dlt_baseline.load(runner, models, observed_at)
        out["op_s"] = time.perf_counter() - start
    return out


def _count_rows(spec: dict[str, Any]) -> int:
    """Rows in every table the tool writes (not dlt's staging dataset)."""
    from sqlalchemy import create_engine, func, inspect, select, table

    from etl.db.engine import make_engine

    schema: str | None = None
    if spec["tool"] == "etl":
        engine = make_engine(spec["etl_url"])
    elif spec["backend"] == "sqlite":
        if not Path(spec["dlt_sqlite"]).exists():
            return 0
        engine = create_engine(f"sqlite:///{spec['dlt_sqlite']}")
    else:
        engine = make_engine(spec["postgres_url"])
        schema = spec["dlt_dataset"]
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names(schema=schema)
            count = select(func.count())
            return sum(
                connection.execute(count.select_from(table(name, schema=schema))).scalar_one()
                for name in names
            )
    finally:
        engine.dispose()


def _one_line(error: Exception) -> str:
    """The error's first line, and the last one naming an error (dlt wraps the cause)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    causes = [line for line in lines[1:] if "Error" in line or "Exception" in line]
    text = " ... ".join(lines[:1] + causes[-1:])
    return f"{type(error).__name__}: {text}"[:400]


def worker_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    try:
        out = worker(spec)
    except Exception as error:
        out = {"error": _one_line(error)}
    # The peak of this process's own memory since exec, exact (wait4's figure starts at the
    # launcher's size).
    out["peak_rss_kib"] = _rss_kib(key="VmHWM")
    Path(spec["result"]).write_text(json.dumps(out))


class Launcher:
    """A small process that starts every measured process and reports how it ended.

    The peak RSS the kernel reports for a child (``wait4``) is at least its parent's peak
    when it started it: started from this harness, which holds generated catalogs, a small
    process would look hundreds of MiB big. Started from here it looks at least as big as
    this launcher (about 16 MiB) and no bigger.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--launcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        max_rss_kib: int,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log: Path | None = None,
    ) -> Process:
        """Run one process to its end (see :func:`run_process`)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {
            "argv": list(argv),
            "timeout": timeout,
            "max_rss_kib": max_rss_kib,
            "env": env,
            "cwd": str(cwd) if cwd else None,
            "log": str(log) if log else None,
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the launcher process died")
        return Process(**json.loads(answer))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def launcher_main() -> None:
    """Serve :meth:`Launcher.run`: one JSON request per line in, one result per line out."""
    for line in sys.stdin:
        request = json.loads(line)
        process = run_process(
            request["argv"],
            timeout=request["timeout"],
            max_rss_kib=request["max_rss_kib"],
            env=request["env"],
            cwd=Path(request["cwd"]) if request["cwd"] else None,
            log=Path(request["log"]) if request["log"] else None,
        )
        print(json.dumps(asdict(process)), flush=True)


# --- the parent: processes, watchdog, databases --------------------------------------------


@dataclass
class Process:
    """One finished (or killed) process."""

    status: str
    """``ok``, ``timeout``, ``memory`` (killed over --max-rss-gib) or ``error``."""
    wall_s: float
    peak_rss_kib: int
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    max_rss_kib: int,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> Process:
    """Run a process to its end, or kill it (and its group) at ``timeout`` seconds or over
    ``max_rss_kib`` of memory. Wall time and peak RSS are its own (``wait4``)."""
    out = open(log or os.devnull, "ab")  # noqa: SIM115  (closed below; also the child's)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
    )
    killed: list[str] = []
    done = threading.Event()

    def watch() -> None:
        # Polled from a thread so that the main one can block in wait4: the wall time is
        # then exact, not rounded up to a polling interval.
        status = Path(f"/proc/{proc.pid}/status")
        while not done.wait(0.1):
            try:
                rss = _rss_kib(status)
            except (OSError, ValueError):
                return
            reason = (
                "timeout"
                if time.perf_counter() - start > timeout
                else "memory"
                if rss > max_rss_kib
                else None
            )
            if reason:
                killed.append(reason)
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, wait_status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    out.close()
    proc.returncode = os.waitstatus_to_exitcode(wait_status)
    peak = usage.ru_maxrss  # KiB on Linux
    if killed:
        return Process(killed[0], wall, peak)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log else []
        return Process("error", wall, peak, detail=f"exit {proc.returncode} {' '.join(tail)}")
    return Process("ok", wall, peak)


@dataclass
class Database:
    """A fresh database for one repeat of one case."""

    backend: str
    folder: Path
    tag: str
    etl_url: str
    postgres_url: str

    def spec(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "etl_url": self.etl_url,
            "postgres_url": self.postgres_url,
            "dlt_folder": str(self.folder / "dlt-pipelines"),
            "dlt_sqlite": str(self.folder / "dlt.db"),
            "dlt_dataset": self.tag,
        }


class Bench:
    """Runs the cases and keeps their measurements."""

    def __init__(self, options: argparse.Namespace, workdir: Path, launcher: Launcher) -> None:
        self.options = options
        self.launcher = launcher
        self.workdir = workdir
        self.max_rss_kib = int(options.max_rss_gib * 1024 * 1024)
        self.results: list[dict[str, Any]] = []
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # processes

    def worker(self, spec: dict[str, Any], app: str = "") -> Process:
        """One worker process; ``app`` names its PostgreSQL sessions, to end them if killed."""
        name = uuid.uuid4().hex[:8]
        spec_path = self.workdir / f"spec-{name}.json"
        spec["result"] = str(self.workdir / f"result-{name}.json")
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "PGAPPNAME": app or "bsync", "PYTHONHASHSEED": "0"}
        process = self.launcher.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path)],
            timeout=self.options.timeout,
            max_rss_kib=self.max_rss_kib,
            env=env,
            cwd=self.workdir,
            log=self.logs / f"{spec['tool']}-{name}.log",
        )
        if process.status != "ok" and app:
            self._end_sessions(app)
        result_path = Path(spec["result"])
        if process.status == "ok":
            process.result = json.loads(result_path.read_text())
            if "error" in process.result:
                process.status, process.detail = "error", process.result["error"]
            else:
                process.peak_rss_kib = process.result["peak_rss_kib"]
        result_path.unlink(missing_ok=True)
        spec_path.unlink()
        return process

    def _end_sessions(self, app: str) -> None:
        # A killed client leaves its query running on the server (a dlt merge can go on for
        # many minutes): end it, so it neither loads the machine nor blocks DROP SCHEMA.
        from sqlalchemy import text

        from etl.db.engine import make_engine

        engine = make_engine(self.options.postgres_url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :app AND pid <> pg_backend_pid()"
                ),
                {"app": app},
            )
        engine.dispose()

    @contextmanager
    def database(self, backend: str, tool: str) -> Iterator[Database]:
        """A fresh, empty database; catalog-etl's at the latest schema revision."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from etl.db.engine import make_engine
        from etl.store.migrate import upgrade

        tag = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:10]}"
        folder = self.workdir / "db" / tag
        folder.mkdir(parents=True)
        admin = make_engine(self.options.postgres_url) if backend == "postgresql" else None
        if admin is None:
            url = f"sqlite:///{folder}/catalog.db"
        else:
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{tag}"'))
            url = (
                make_url(self.options.postgres_url)
                .update_query_dict({"options": f"-csearch_path={tag}"})
                .render_as_string(hide_password=False)
            )
        try:
            if tool == "etl":
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
            yield Database(backend, folder, tag, url, self.options.postgres_url)
        finally:
            if admin is not None:
                self._end_sessions(tag)
                with admin.begin() as connection:
                    for schema in (tag, f"{tag}_staging"):
                        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()
            shutil.rmtree(folder, ignore_errors=True)

    # cases

    def measure(self, data: Dataset, case: str, backend: str, tool: str) -> dict[str, Any]:
        """Median of --repeat runs of one case with one tool; stops at the first failure."""
        runs: list[Process] = []
        for _ in range(self.options.repeat):
            if tool in ("json", "orjson"):
                process = self.worker({"tool": tool, "files": [str(p) for p in data.files(case)]})
            else:
                with self.database(backend, tool) as db:
                    process = self._run_case(data, case, tool, db)
            runs.append(process)
            if process.status != "ok":
                break
        return self._summarize(data, case, backend, tool, runs)

    def _run_case(self, data: Dataset, case: str, tool: str, db: Database) -> Process:
        base = {"tool": tool, **db.spec()}
        for step in data.steps(case)[:-1]:
            setup = self.worker({**base, **step}, app=db.tag)
            if setup.status != "ok":
                setup.detail = f"set-up: {setup.status} {setup.detail}".strip()
                return setup
        return self.worker({**base, **data.steps(case)[-1]}, app=db.tag)

    def _summarize(
        self, data: Dataset, case: str, backend: str, tool: str, runs: list[Process]
    ) -> dict[str, Any]:
        good = [run for run in runs if run.status == "ok"]
        failed = next((run for run in runs if run.status != "ok"), None)
        entry: dict[str, Any] = {
            "dataset": data.label,
            "models": data.models,
            "case": case,
            "backend": backend,
            "tool": tool,
            "runs": len(runs),
            "status": failed.status if failed else "ok",
            "detail": failed.detail if failed else "",
        }
        if failed:
            entry["failed_after_s"] = round(failed.wall_s, 1)
            entry["failed_peak_rss_mib"] = round(failed.peak_rss_kib / 1024)
        if good and not failed:
            last = good[-1].result
            entry.update(
                op_s=statistics.median(run.result["op_s"] for run in good),
                op_all=[round(run.result["op_s"], 4) for run in good],
                process_s=statistics.median(run.wall_s for run in good),
                peak_rss_mib=statistics.median(run.peak_rss_kib for run in good) / 1024,
                import_s=statistics.median(run.result["import_s"] for run in good),
                rows=(last["rows_after"] - last["rows_before"]) if "rows_after" in last else None,
                counts=last.get("counts"),
                phases=last.get("phases"),
                warnings=last.get("warnings"),
            )
        self.results.append(entry)
        shown = (
            f"{entry['op_s']:.3f} s, {entry['peak_rss_mib']:.0f} MiB"
            if "op_s" in entry
            else f"{entry['status']} {entry['detail']}"
        )
        print(f"  {data.label:>8} {case:<11} {backend:<10} {tool:<6} {shown}", flush=True)
        return entry

    def skip(self, data: Dataset, case: str, backend: str, tool: str) -> None:
        """Record a case not run because it did not finish at a smaller size."""
        self.results.append(
            {
                "dataset": data.label,
                "models": data.models,
                "case": case,
                "backend": backend,
                "tool": tool,
                "status": "skipped",
                "detail": "did not finish at a smaller size",
            }
        )
        print(f"  {data.label:>8} {case:<11} {backend:<10} {tool:<6} skipped", flush=True)

    def run_cli(self, backend: str) -> None:
        """``catalog-etl sync --file`` of the newest real capture, nothing changed, as a whole
        process; and start-up alone."""
        cli = Path(sys.executable).with_name("catalog-etl")
        command = [str(cli)] if cli.exists() else [sys.executable, "-m", "etl"]
        capture = self.workdir / "cli" / "catalog.json"
        capture.parent.mkdir(exist_ok=True)
        capture.write_bytes(gzip.decompress(sorted(DAILY.glob("*.json.gz"))[-1].read_bytes()))
        models = len(_models_in(capture))

        def timed(argv: list[str], label: str, env: dict[str, str] | None = None) -> None:
            runs = []
            for _ in range(self.options.repeat):
                process = self.launcher.run(
                    argv, timeout=self.options.timeout, max_rss_kib=self.max_rss_kib, env=env
                )
                runs.append(process)
                if process.status != "ok":
                    break
            ok = all(run.status == "ok" for run in runs)
            self.results.append(
                {
                    "dataset": "cli",
                    "case": label,
                    "backend": backend,
                    "tool": "cli",
                    "models": models,
                    "status": "ok" if ok else runs[-1].status,
                    "detail": "" if ok else runs[-1].detail,
                    "process_s": statistics.median(r.wall_s for r in runs) if ok else None,
                    "peak_rss_mib": statistics.median(r.peak_rss_kib for r in runs) / 1024,
                }
            )
            print(f"  cli {label:<34} {backend:<10} {self.results[-1]['process_s']}", flush=True)

        if backend == "sqlite":
            timed([sys.executable, "-c", "pass"], "interpreter start-up")
            timed([*command, "--version"], "catalog-etl --version")
            timed(
                [sys.executable, "-c", "import etl.cli.sync, etl.pipeline, etl.migrate"],
                "imports of the sync path",
            )
        with self.database(backend, "etl") as db:
            env = {**os.environ, "CATALOG_ETL_DATABASE_URL": db.etl_url}
            first = [*command, "sync", "--file", str(capture), "--observed-at", T0.isoformat()]
            setup = self.launcher.run(
                first, timeout=self.options.timeout, max_rss_kib=self.max_rss_kib, env=env
            )
            if setup.status != "ok":
                raise RuntimeError(f"CLI set-up failed: {setup.status} {setup.detail}")
            timed([*command, "sync", "--file", str(capture)], "sync --file, no-op", env)


# --- data ------------------------------------------------------------------------------


def _models_in(path: Path) -> list[Any]:
    document = json.loads(path.read_bytes())
    models = document["data"] if isinstance(document, dict) else document
    assert isinstance(models, list)
    return models


def _snapshot_name(moment: datetime) -> str:
    # A name backfill reads the observation time from (2026-01-01T000000Z.json).
    return moment.strftime("%Y-%m-%dT%H%M%SZ") + ".json"


@dataclass
class Dataset:
    """The payload files of one size: one snapshot per day, named by observation time."""

    label: str
    models: int
    snapshots: Path
    before: Path
    """The first day: the payload of first-load and no-op, and the day before change-day."""
    after: Path
    """The day change-day applies."""

    def files(self, case: str) -> list[Path]:
        """The payloads a case parses."""
        if case == "backfill":
            return sorted(self.snapshots.glob("*.json"))
        return [self.after if case == "change-day" else self.before]

    def steps(self, case: str) -> list[dict[str, Any]]:
        """Set-up steps, then the measured one."""

        def load(path: Path, moment: datetime) -> dict[str, Any]:
            return {"action": "load", "payload": str(path), "observed_at": moment.isoformat()}

        day = timedelta(days=1)
        if case == "first-load":
            return [load(self.before, T0)]
        if case == "no-op":
            return [load(self.before, T0), load(self.before, T0 + day)]
        if case == "change-day":
            return [load(self.before, T0), load(self.after, T0 + day)]
        return [{"action": "backfill", "snapshots": str(self.snapshots)}]


def synthetic_dataset(folder: Path, n: int, days: int, seed: int) -> Dataset:
    """Write ``days`` daily payloads of an ``n``-model synthetic catalog."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.synthetic import history

    snapshots = folder / f"synthetic-{n}"
    snapshots.mkdir(parents=True)
    paths = []
    for catalog in history(n, days, seed):
        path = snapshots / _snapshot_name(T0 + timedelta(days=catalog.day))
        path.write_bytes(catalog.payload())
        paths.append(path)
    return Dataset(f"{n:,}", n, snapshots, paths[0], paths[1])


def real_dataset(folder: Path) -> Dataset:
    """The 63 real daily captures, decompressed. First-load and no-op take the second
    newest; change-day applies the newest on top of it (the last real day-to-day change)."""
    snapshots = folder / "real"
    snapshots.mkdir(parents=True)
    paths = []
    for capture in sorted(DAILY.glob("*.json.gz")):
        path = snapshots / capture.name.removesuffix(".gz")
        path.write_bytes(gzip.decompress(capture.read_bytes()))
        paths.append(path)
    return Dataset("real", len(_models_in(paths[-1])), snapshots, paths[-2], paths[-1])


# --- the report ----------------------------------------------------------------------


def _machine(options: argparse.Namespace) -> list[str]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for package in ("SQLAlchemy", "psycopg", "orjson", "pydantic", "dlt"):
        with suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    import sqlite3

    postgres = "not used"
    if "postgresql" in options.backends:
        from sqlalchemy import text

        from etl.db.engine import make_engine

        engine = make_engine(options.postgres_url)
        with engine.connect() as connection:
            postgres = str(connection.execute(text("SHOW server_version")).scalar_one())
            work_mem = connection.execute(text("SHOW work_mem")).scalar_one()
            postgres += f" (work_mem {work_mem}, on this machine)"
        engine.dispose()
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "etl"], capture_output=True, text=True)
    code = commit.stdout.strip() or "unknown"
    code += " with uncommitted changes in etl/" if dirty.stdout.strip() else ""
    return [
        f"- catalog-etl at commit {code}",
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory_gib:.0f} GiB",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}; SQLite {sqlite3.sqlite_version};"
        f" PostgreSQL {postgres}",
        f"- {', '.join(versions)}",
    ]


def _fmt_s(entry: dict[str, Any] | None, timeout: float) -> str:
    if entry is None:
        return ""
    if entry["status"] == "ok":
        return f"{entry['op_s']:.3f}"
    if entry["status"] == "timeout":
        return f"DNF (> {timeout:.0f} s)"
    if entry["status"] == "memory":
        return "killed (memory)"
    if entry["status"] == "skipped":
        return "skipped"
    return "error"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else "PASS" if ok else "**FAIL**"


def render(
    results: list[dict[str, Any]],
    options: argparse.Namespace,
    machine: list[str],
    load: tuple[tuple[float, ...], tuple[float, ...]],
    elapsed_s: float,
) -> str:
    """RESULTS.md: the machine, then time, memory, scaling, the CLI, and the targets."""
    index = {(r["dataset"], r["case"], r["backend"], r["tool"]): r for r in results}
    datasets = list(dict.fromkeys(r["dataset"] for r in results if r["dataset"] != "cli"))
    sizes = {r["dataset"]: r["models"] for r in results}
    timeout = options.timeout
    verdicts: dict[str, list[str]] = {}

    def measured() -> Iterator[tuple[str, str, str, dict[str, Any], Any, Any]]:
        """Each measured catalog-etl case, with its json.loads and dlt counterparts."""
        for dataset in datasets:
            for case in CASES:
                for backend in options.backends:
                    etl = index.get((dataset, case, backend, "etl"))
                    if etl is not None:
                        parse = index.get((dataset, case, "-", "json"))
                        dlt = index.get((dataset, case, backend, "dlt"))
                        yield dataset, case, backend, etl, parse, dlt

    def judge(target: str, ok: bool | None, where: str) -> str:
        if ok is not None:
            verdicts.setdefault(target, [])
            if not ok:
                verdicts[target].append(where)
        return _verdict(ok)

    # A run keeps about one core busy itself (the worker, and PostgreSQL's backend).
    busy = (
        ": above the number of cores, other work shared the machine and the times are inflated"
        if max(load[0][:1] + load[1]) > (os.cpu_count() or 1)
        else ": below the number of cores"
    )
    runs = "1 run" if options.repeat == 1 else f"{options.repeat} runs"
    lines = [
        "# Sync benchmarks",
        "",
        "Generated by `benchmarks/bench_sync.py`; do not edit by hand. Command:",
        "",
        f"    python benchmarks/bench_sync.py {' '.join(options.argv)}".rstrip(),
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {elapsed_s / 60:.0f} min; median of"
        f" {runs} per case, each in a fresh process on a fresh database;"
        f" a process is stopped after {timeout:.0f} s or {options.max_rss_gib:g} GiB.",
        "",
        "## Machine",
        "",
        *machine,
        f"- load average (1, 5, 15 min) at the start {_loads(load[0])}, at the end"
        f" {_loads(load[1])}{busy}",
        "",
        "## Time",
        "",
        "Seconds for the operation alone (in-process, after imports and start-up; see the"
        " whole-process times below). *parse*: `json.loads` of the same payload (the floor);"
        f" *× parse* is catalog-etl over it, judged from {RATIO_MIN_MODELS:,} models (no-op at"
        " most 2×, first load and change day at most 4×). *dlt*: dlt's scd2 merge of the same"
        f" models into the same database server; *dlt ÷ etl* must be at least {DLT_SPEEDUP:g}×."
        " Backfill times include reading the 60 (real: 63) files, and so does its parse.",
        "",
        "| models | case | database | catalog-etl | parse (json) | parse (orjson) | × parse"
        " | ≤ target | dlt scd2 | dlt ÷ etl | ≥ 10× |",
        "|---:|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for dataset, case, backend, etl, parse, dlt in measured():
        fast = index.get((dataset, case, "-", "orjson"))
        where = f"{dataset} {case} {backend}"
        ratio, ratio_ok = "", None
        if etl["status"] == "ok" and parse and parse["status"] == "ok":
            value = etl["op_s"] / parse["op_s"]
            ratio = f"{value:.1f}×"
            if case in RATIO_TARGETS and sizes[dataset] >= RATIO_MIN_MODELS:
                ratio_ok = value <= RATIO_TARGETS[case]
        elif case in RATIO_TARGETS and sizes[dataset] >= RATIO_MIN_MODELS:
            ratio_ok = False
        speedup, speedup_ok = "", None
        if dlt is not None:
            if etl["status"] != "ok":
                speedup_ok = False
            elif dlt["status"] == "ok":
                speedup = f"{dlt['op_s'] / etl['op_s']:.1f}×"
                speedup_ok = dlt["op_s"] / etl["op_s"] >= DLT_SPEEDUP
            elif dlt["status"] in ("timeout", "memory"):
                bound = timeout / etl["op_s"]
                speedup = f"> {bound:.0f}×"
                speedup_ok = True if bound >= DLT_SPEEDUP else None
        target = f"{case} ≤ {RATIO_TARGETS.get(case, 0):g}× parse"
        lines.append(
            f"| {dataset} | {case} | {backend} | {_fmt_s(etl, timeout)}"
            f" | {_fmt_s(parse, timeout)} | {_fmt_s(fast, timeout)} | {ratio}"
            f" | {judge(target, ratio_ok, where)} | {_fmt_s(dlt, timeout)}"
            f" | {speedup} | {judge('≥ 10× faster than dlt', speedup_ok, where)} |"
        )

    lines += [
        "",
        "## Memory, rows, whole process",
        "",
        "Peak RSS of the whole process (MiB), its own high-water mark. *json* is a process"
        " that reads the payload and runs `json.loads` on it (for a backfill: each file in"
        f" turn); at {RSS_MODELS:,} models catalog-etl must stay within {RSS_TARGET:g}× of it."
        " *Rows added*: rows in all tables after minus before (runs and the payload archive"
        " included; updates of `valid_to` are not counted). *Process*: seconds for the whole"
        " process as the parent sees it (interpreter start, imports, the operation, exit).",
        "",
        "| models | case | database | etl MiB | json MiB | × json | ≤ 1.5× | dlt MiB"
        " | etl rows added | dlt rows added | etl process s | dlt process s |",
        "|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for dataset, case, backend, etl, parse, dlt in measured():
        ratio, ok = "", None
        if etl["status"] == "ok" and parse and parse["status"] == "ok":
            value = etl["peak_rss_mib"] / parse["peak_rss_mib"]
            ratio = f"{value:.1f}×"
            if sizes[dataset] >= RSS_MODELS:
                ok = value <= RSS_TARGET
        elif sizes[dataset] >= RSS_MODELS:
            ok = False
        verdict = judge(f"peak RSS ≤ {RSS_TARGET:g}× json.loads", ok, f"{dataset} {case} {backend}")
        lines.append(
            f"| {dataset} | {case} | {backend} | {_mib(etl)} | {_mib(parse)} | {ratio}"
            f" | {verdict} | {_mib(dlt)} | {_field(etl, 'rows')} | {_field(dlt, 'rows')}"
            f" | {_field(etl, 'process_s', '.2f')} | {_field(dlt, 'process_s', '.2f')} |"
        )

    synthetic = [d for d in datasets if d != "real"]
    if len(synthetic) > 1:
        header = " | ".join(f"{d} models" for d in synthetic)
        lines += [
            "",
            "## Scaling",
            "",
            "catalog-etl's cost per model (µs, operation time ÷ models; backfill ÷ models ×"
            f" days). Linear growth: at the largest size at most {LINEAR_TOLERANCE:g}× the cost"
            " per model at the size below it.",
            "",
            f"| case | database | {header} | linear |",
            "|---|---|" + "---:|" * len(synthetic) + "---|",
        ]
        for case in CASES:
            for backend in options.backends:
                cells: list[str] = []
                costs: list[float | None] = []
                for dataset in synthetic:
                    entry = index.get((dataset, case, backend, "etl"))
                    if entry is None or entry["status"] != "ok":
                        cells.append(_fmt_s(entry, timeout))
                        costs.append(None)
                        continue
                    work = sizes[dataset] * (options.days if case == "backfill" else 1)
                    costs.append(entry["op_s"] / work * 1e6)
                    cells.append(f"{costs[-1]:.1f}")
                ok = None
                if len(costs) >= 2 and costs[-2] is not None:
                    ok = costs[-1] is not None and costs[-1] <= LINEAR_TOLERANCE * costs[-2]
                verdict = judge("linear growth", ok, f"{case} {backend}")
                lines.append(f"| {case} | {backend} | {' | '.join(cells)} | {verdict} |")

    cli = [r for r in results if r["dataset"] == "cli"]
    if cli:
        models = cli[0]["models"]
        lines += [
            "",
            "## The command line, whole process",
            "",
            f"`catalog-etl sync --file` of the newest real capture ({models} models) into a"
            " database that already holds it: nothing changes. Whole process, start-up"
            f" included; the target is under {CLI_TARGET_S:g} s (judged on SQLite, the"
            " default database). Start-up measured on its own above it.",
            "",
            "| what | database | seconds | peak MiB | < 0.6 s |",
            "|---|---|---:|---:|---|",
        ]
        for entry in cli:
            ok = None
            if entry["case"].startswith("sync") and entry["backend"] == "sqlite":
                ok = entry["status"] == "ok" and entry["process_s"] < CLI_TARGET_S
            seconds = f"{entry['process_s']:.3f}" if entry["status"] == "ok" else entry["status"]
            verdict = judge("CLI no-op < 0.6 s", ok, entry["backend"])
            lines.append(
                f"| {entry['case']} | {entry['backend']} | {seconds}"
                f" | {entry['peak_rss_mib']:.0f} | {verdict} |"
            )

    lines += ["", "## Targets", "", "| target | result | failing |", "|---|---|---|"]
    for target, failing in verdicts.items():
        shown = "; ".join(failing[:8]) + (f"; … ({len(failing)})" if len(failing) > 8 else "")
        lines.append(f"| {target} | {_verdict(not failing)} | {shown} |")
    notes = [r for r in results if r["status"] != "ok"]
    if notes:
        lines += ["", "## Runs that did not finish", ""]
        for r in notes:
            how = {
                "timeout": f"stopped after {timeout:.0f} s",
                "memory": f"stopped over {options.max_rss_gib:g} GiB",
            }.get(r["status"], r["status"])
            if "failed_after_s" in r:
                how += f" (at {r['failed_after_s']} s, peak {r['failed_peak_rss_mib']} MiB)"
            detail = " ".join(r["detail"].split())[:400]
            lines.append(f"- {r['dataset']} {r['case']} {r['backend']} {r['tool']}: {how} {detail}")
    phases = [r for r in results if r.get("phases")]
    if phases:
        lines += ["", "## Where dlt spends its time (seconds, last run)", ""]
        lines += [
            f"- {r['dataset']} {r['case']} {r['backend']}: "
            + ", ".join(f"{k} {v}" for k, v in r["phases"].items())
            for r in phases
        ]
    return "\n".join(lines) + "\n"


def _loads(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.1f}" for value in values)


def _mib(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return ""
    if entry["status"] != "ok":
        return _fmt_s(entry, 0) if entry["status"] != "timeout" else "DNF"
    return f"{entry['peak_rss_mib']:.0f}"


def _field(entry: dict[str, Any] | None, name: str, spec: str = "") -> str:
    if entry is None or entry.get(name) is None:
        return ""
    return format(entry[name], spec)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join((__doc__ or "").splitlines()[2:]),
    )

    def listed(kind: type, choices: Sequence[Any] | None = None) -> Any:
        def convert(text: str) -> list[Any]:
            values = [kind(v.replace("_", "")) for v in text.split(",") if v]
            if choices is not None and any(v not in choices for v in values):
                raise argparse.ArgumentTypeError(f"choose from {', '.join(map(str, choices))}")
            return values

        return convert

    parser.add_argument("--sizes", type=listed(int), default=list(DEFAULT_SIZES))
    parser.add_argument("--cases", type=listed(str, CASES), default=list(CASES))
    parser.add_argument("--backends", type=listed(str, BACKENDS), default=list(BACKENDS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median)")
    parser.add_argument("--with-dlt", action="store_true", help="measure the dlt baseline")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per process")
    parser.add_argument("--max-rss-gib", type=float, default=8, help="memory per process")
    parser.add_argument("--days", type=int, default=60, help="snapshots in the backfill case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-real", dest="real", action="store_false", help="no real captures")
    parser.add_argument("--no-cli", dest="cli", action="store_false", help="no CLI case")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write every measurement as JSON")
    parser.add_argument("--workdir", type=Path, help="for payloads and SQLite files")
    options = parser.parse_args(argv)
    options.argv = argv
    if options.days < 2:
        parser.error("--days must be at least 2")
    return options


def main(argv: list[str]) -> None:
    options = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    load_before = os.getloadavg()
    launcher = Launcher()  # first, while this process is small
    machine = _machine(options)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=options.workdir))
    bench = Bench(options, workdir, launcher)
    tools = ["etl", "dlt"] if options.with_dlt else ["etl"]
    if options.with_dlt:
        try:
            metadata.version("dlt")
        except metadata.PackageNotFoundError:
            sys.exit("--with-dlt needs dlt: pip install -e '.[bench]'")
    print(f"work folder {workdir}", flush=True)
    try:
        datasets: list[Dataset] = []
        for n in sorted(options.sizes):
            days = options.days if "backfill" in options.cases else 2
            start = time.perf_counter()
            datasets.append(synthetic_dataset(workdir / "data", n, days, options.seed))
            print(f"generated {days} days of {n:,} models in {time.perf_counter() - start:.1f} s")
        if options.real:
            datasets.append(real_dataset(workdir / "data"))
        given_up: set[tuple[str, str, str]] = set()
        for data in datasets:
            print(f"{data.label} models", flush=True)
            for case in options.cases:
                for tool in ("json", "orjson"):
                    bench.measure(data, case, "-", tool)
                for backend in options.backends:
                    for tool in tools:
                        key = (case, backend, tool)
                        if key in given_up and data.label != "real":
                            # It did not finish at a smaller size: it will not at this one.
                            bench.skip(data, case, backend, tool)
                            continue
                        entry = bench.measure(data, case, backend, tool)
                        if entry["status"] in ("timeout", "memory"):
                            given_up.add(key)
            shutil.rmtree(data.snapshots, ignore_errors=True)
        if options.cli:
            for backend in options.backends:
                bench.run_cli(backend)
    finally:
        launcher.close()
        shutil.rmtree(workdir, ignore_errors=True)
    loads = (load_before, os.getloadavg())
    text = render(bench.results, options, machine, loads, time.perf_counter() - started)
    options.output.write_text(text)
    if options.json:
        options.json.write_text(json.dumps(bench.results, indent=1, default=str))
    print(f"wrote {options.output}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2])
    elif sys.argv[1:] == ["--launcher"]:
        launcher_main()
    else:
        main(sys.argv[1:])
