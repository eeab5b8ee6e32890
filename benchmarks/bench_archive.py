"""The payload archive side by side with git, and what storing deltas costs.

    python benchmarks/bench_archive.py [--hours 300] [--models 400] [--compact-payloads 2000]

1. Archive bytes for the 63 real daily captures (tests/data/openrouter-daily) and for an
   hourly synthetic series (--hours observations of --models models, about 1% repriced an
   hour, models added and removed now and then): catalog-etl's archive (deltas), the same
   payloads as zstd frames of their own (how earlier versions stored them), and a git
   repository that commits each capture in turn, after `git gc --aggressive` (its pack).
2. Time: `rebuild` of the 63 captures, and a sync of the next day's capture, with the
   archive as deltas and as frames of their own (median of --repeat runs; SQLite's
   write-ahead log checkpointed before the sync, so that neither pays for a checkpoint the
   other does not).
3. Memory: peak RSS of a child process running `catalog-etl db compact` on an archive of
   frames of their own of about 1 GB (--compact-payloads payloads of ~500 kB), next to one
   a quarter of that size: the same peak whatever the size.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import zstandard
from sqlalchemy import Engine, func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import evolve, generate  # noqa: E402
from etl.backfill import rebuild  # noqa: E402
from etl.db.engine import make_engine  # noqa: E402
from etl.db.tables import payloads_table, sync_runs_table  # noqa: E402
from etl.pipeline import sync_bytes  # noqa: E402
from etl.store import archive  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402
from etl.times import parse_time  # noqa: E402

MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command, then writes its peak RSS in KiB to a file."""
DAILY = sorted((ROOT / "tests" / "data" / "openrouter-daily").glob("*.json.gz"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOURLY = {"price_share": 0.01, "add_share": 0.002, "remove_share": 0.002, "return_share": 0.002}
STEADY = {"price_share": 0.01, "add_share": 0.0, "remove_share": 0.0, "return_share": 0.0}
"""Prices move, the catalog keeps its size: archives of a known size for `db compact`."""


def daily() -> list[tuple[datetime, bytes]]:
    return [(parse_time(p.name.split(".")[0]), gzip.decompress(p.read_bytes())) for p in DAILY]


def hourly(hours: int, models: int) -> list[tuple[datetime, bytes]]:
    catalog, series = generate(models, seed=5), []
    for hour in range(hours):
        if hour:
            catalog = evolve(catalog, hour, seed=5, **HOURLY)
        series.append((T0 + timedelta(hours=hour), catalog.payload()))
    return series


def fresh(folder: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{folder / name}.db")
    upgrade(engine)
    return engine


def archived_bytes(series: list[tuple[datetime, bytes]], folder: Path, name: str) -> int:
    """Bytes catalog-etl's archive holds after syncing the series in time order."""
    engine = fresh(folder, name)
    for moment, raw in series:
        assert sync_bytes(engine, raw, observed_at=moment, max_removed_share=None).ok
    with engine.connect() as connection:
        stored = connection.execute(
            select(func.sum(func.length(payloads_table.c.content)))
        ).scalar_one()
    engine.dispose()
    return int(stored)


def git_pack_bytes(series: Iterable[tuple[datetime, bytes]], folder: Path) -> int:
    """Size of the pack of a repository committing each capture in turn, after
    `git gc --aggressive`."""
    repo = folder / "git"
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@localhost"}
    env.update(GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@localhost")

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout

    repo.mkdir(parents=True)
    git("init", "-q")
    for moment, raw in series:
        (repo / "models.json").write_bytes(raw)
        git("add", "models.json")
        git("commit", "-q", "--allow-empty", "-m", moment.isoformat())
    git("gc", "-q", "--aggressive", "--prune=now")
    return sum(p.stat().st_size for p in (repo / ".git" / "objects" / "pack").glob("*.pack"))


def sizes(series: list[tuple[datetime, bytes]], folder: Path, name: str) -> dict[str, int]:
    return {
        "raw": sum(len(raw) for _, raw in series),
        "frames of their own (zstd 3)": sum(
            len(zstandard.ZstdCompressor(level=3).compress(raw)) for _, raw in series
        ),
        "catalog-etl (deltas)": archived_bytes(series, folder, name),
        "git gc --aggressive": git_pack_bytes(series, folder / name),
    }


def timings(folder: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Rebuild of the 63 captures and the sync of a next day, deltas against frames."""
    series = daily()
    results: dict[str, dict[str, float]] = {}
    original = archive.base_for
    for mode in ("deltas", "frames of their own"):
        archive.base_for = original if mode == "deltas" else (lambda *_: None)  # type: ignore[assignment]
        rebuilds, syncs = [], []
        for attempt in range(repeat):
            engine = fresh(folder, f"time-{mode[0]}-{attempt}")
            for moment, raw in series[:-1]:
                assert sync_bytes(engine, raw, observed_at=moment, max_removed_share=None).ok
            moment, raw = series[-1]
            with engine.connect() as connection:  # both modes start with an empty WAL
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            started = time.perf_counter()
            assert sync_bytes(engine, raw, observed_at=moment).ok
            syncs.append(time.perf_counter() - started)
            archive.forget_recent()
            started = time.perf_counter()
            rebuild(engine)
            rebuilds.append(time.perf_counter() - started)
            engine.dispose()
        results[mode] = {"rebuild": statistics.median(rebuilds), "sync": statistics.median(syncs)}
    archive.base_for = original  # type: ignore[assignment]
    return results


def compact_memory(folder: Path, payloads: int) -> dict[str, tuple[float, int]]:
    """Peak RSS (MiB) of `db compact` in a child process, and the archive's raw size."""
    results = {}
    for count in (payloads // 4, payloads):
        path = folder / f"compact-{count}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        raw_total = 0
        catalog = generate(400, seed=9)
        with engine.begin() as connection:
            for number in range(count):
                catalog = evolve(catalog, number + 1, seed=9, **STEADY)
                raw = catalog.payload()
                raw_total += len(raw)
                sha256 = __import__("hashlib").sha256(raw).hexdigest()
                moment = T0 + timedelta(hours=number)
                connection.execute(
                    insert(payloads_table).values(
                        sha256=sha256,
                        size_bytes=len(raw),
                        compression="zstd",
                        content=zstandard.ZstdCompressor(level=3).compress(raw),
                        stored_at=moment,
                    )
                )
                connection.execute(
                    insert(sync_runs_table).values(
                        status="succeeded",
                        default_provider="openrouter",
                        observed_at=moment,
                        started_at=moment,
                        payload_sha256=sha256,
                        warnings=[],
                    )
                )
        engine.dispose()
        # Measured by a small interpreter that starts the command: a process forked from
        # this one would count this one's pages in its high-water mark, which survives exec.
        peak = folder / f"peak-{count}"
        command = [
            sys.executable,
            "-m",
            "etl",
            "db",
            "compact",
            "--database-url",
            f"sqlite:///{path}",
        ]
        subprocess.run(
            [sys.executable, "-c", MEASURE, str(peak), *command],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results[f"{count} payloads"] = (int(peak.read_text()) / 1024, raw_total)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=300)
    parser.add_argument("--models", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compact-payloads", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        table = {
            "63 daily captures": sizes(daily(), folder, "daily"),
            f"{args.hours} hourly, {args.models} models": sizes(
                hourly(args.hours, args.models), folder, "hourly"
            ),
        }
        print("| series | " + " | ".join(next(iter(table.values()))) + " |")
        print("|---|" + "---:|" * len(next(iter(table.values()))))
        for series, found in table.items():
            print(
                f"| {series} | " + " | ".join(f"{v / 1024:,.0f} KiB" for v in found.values()) + " |"
            )
        print("\n| archive | rebuild of the 63 captures | sync of the next day |\n|---|---:|---:|")
        for mode, found in timings(folder, args.repeat).items():
            print(f"| {mode} | {found['rebuild']:.2f} s | {found['sync'] * 1000:.0f} ms |")
        print("\n| `db compact` of | raw archive | peak RSS |\n|---|---:|---:|")
        for label, (peak, raw) in compact_memory(folder, args.compact_payloads).items():
            print(f"| {label} | {raw / 1024**3:.2f} GiB | {peak:.0f} MiB |")


if __name__ == "__main__":
    main()
