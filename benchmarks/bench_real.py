"""Sync and backfill timings on the real captures in tests/data, on SQLite and PostgreSQL.

    python benchmarks/bench_real.py [--repeat 5] [--postgres-url URL]

Cases (median wall time of --repeat runs, each on a fresh database, in this process):
  first load  - one real 337-model catalog into an empty database
  no-op       - the same payload again at a later time (nothing changes)
  next day    - a real day-to-day change (2026-03-02 -> 2026-03-03 captures)
  backfill 63 - the 63 daily captures, shuffled, in one backfill
  rebuild 63  - re-deriving those 63 observations from the archive
Plus `catalog-etl sync --file` as a whole process (start-up included), no-op case.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etl.backfill import backfill, rebuild  # noqa: E402
from etl.db.engine import make_engine  # noqa: E402
from etl.ingest.snapshots import file_snapshots  # noqa: E402
from etl.pipeline import sync_file  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402

DATA = ROOT / "tests" / "data"
CATALOG = DATA / "openrouter" / "2025-11-19_teatreechat.json.gz"
DAILY = sorted((DATA / "openrouter-daily").glob("*.json.gz"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@contextmanager
def fresh(backend: str, postgres_url: str) -> Iterator[Engine]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed(
    setup: Callable[[Engine], None],
    work: Callable[[Engine], object],
    backend: str,
    postgres_url: str,
    repeat: int,
) -> float:
    times = []
    for _ in range(repeat):
        with fresh(backend, postgres_url) as engine:
            setup(engine)
            start = time.perf_counter()
            work(engine)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli_noop_seconds(repeat: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/cli.db"
        env = {**os.environ, "CATALOG_ETL_DATABASE_URL": url}
        command = [sys.executable, "-m", "etl", "sync", "--file", str(CATALOG)]
        subprocess.run(command, env=env, check=True, capture_output=True)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    options = parser.parse_args()

    def load(engine: Engine) -> None:
        sync_file(engine, CATALOG, observed_at=T0)

    shuffled = list(DAILY)
    random.Random(1).shuffle(shuffled)
    cases = {
        "first load (337 models)": (lambda e: None, load),
        "no-op resync (337 models)": (
            load,
            lambda e: sync_file(e, CATALOG, observed_at=T0 + timedelta(days=1)),
        ),
        "next day (real change)": (
            lambda e: sync_file(e, DAILY[3], observed_at=T0),
            lambda e: sync_file(e, DAILY[4], observed_at=T0 + timedelta(days=1)),
        ),
        "backfill 63 daily captures": (
            lambda e: None,
            lambda e: backfill(e, file_snapshots(shuffled)),
        ),
        "rebuild 63 observations": (
            lambda e: backfill(e, file_snapshots(DAILY)),
            lambda e: rebuild(e),
        ),
    }
    print(f"median of {options.repeat} runs, seconds; Python {sys.version.split()[0]}\n")
    print("| case | SQLite | PostgreSQL |")
    print("|---|---:|---:|")
    for name, (setup, work) in cases.items():
        row = [
            timed(setup, work, backend, options.postgres_url, options.repeat)
            for backend in ("sqlite", "postgresql")
        ]
        print(f"| {name} | {row[0]:.3f} | {row[1]:.3f} |")
    whole = cli_noop_seconds(options.repeat)
    print(f"| `catalog-etl sync --file`, no-op, whole process | {whole:.3f} | |")


if __name__ == "__main__":
    main()
