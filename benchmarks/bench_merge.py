"""What a late observation costs, next to an in-order one, after a long hourly history.

    python benchmarks/bench_merge.py [--models 400] [--hours 300] [--repeat 7]
        [--backend sqlite|postgresql|both] [--postgres-url URL]

The history: --hours hourly observations of a synthetic catalog of --models models (the
real list's shapes, benchmarks/synthetic.py), each hour a few prices changed, a model added
or removed now and then, synced through the real pipeline in time order. Then, --repeat
times each, on one engine kept open (as a Python program or a busy service would):

  in order             an observation one hour after the end, with a few prices changed
  late, one second     the same changes observed one second before the history's end:
                       merged by rewinding to it and applying the last observation again
  late, same payload   the payload of the observation before the end, one second before
                       the end: it only records the sighting
  late, halfway        the same changes observed halfway through the history: rewinds and
                       applies half of it again (cost follows what comes after)
  in order, fresh engine   the in-order case as `serve` runs each tick: a new engine (new
                       connection, statements compiled again) for the one sync

Each late sync is taken back out with `runs forget` (not timed) before the next repeat, and
each in-order one likewise, so every repeat starts from the same history. The target: a late
sync one second before the end costs no more than twice an in-order one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import SyntheticCatalog, evolve, generate  # noqa: E402
from etl.db.engine import make_engine  # noqa: E402
from etl.db.tables import sync_runs_table  # noqa: E402
from etl.pipeline import sync_bytes  # noqa: E402
from etl.store.amend import forget_run  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOURLY = {"price_share": 0.01, "add_share": 0.002, "remove_share": 0.002, "return_share": 0.002}


def build(engine: Engine, models: int, hours: int) -> SyntheticCatalog:
    catalog = generate(models, seed=3)
    for hour in range(hours):
        if hour:
            catalog = evolve(catalog, hour, seed=3, **HOURLY)
        result = sync_bytes(engine, catalog.payload(), observed_at=T0 + timedelta(hours=hour))
        assert result.ok, result.error
    return catalog


def timed(engine: Engine, raw: bytes, moment: datetime) -> float:
    """Seconds for one sync; the run is taken back out afterwards (not timed)."""
    started = time.perf_counter()
    result = sync_bytes(engine, raw, observed_at=moment)
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    forget_run(engine, result.run_id)
    return elapsed


def measure(engine: Engine, hours: int, last: SyntheticCatalog, repeat: int) -> dict[str, float]:
    end = T0 + timedelta(hours=hours - 1)
    changed = evolve(last, hours, seed=3, **HOURLY).payload()
    before_end = _payload_at(engine, end - timedelta(hours=1))
    cases: dict[str, Callable[[], float]] = {
        "in order": lambda: timed(engine, changed, end + timedelta(hours=1)),
        "late, one second": lambda: timed(engine, changed, end - timedelta(seconds=1)),
        "late, same payload": lambda: timed(engine, before_end, end - timedelta(seconds=1)),
        "late, halfway": lambda: timed(
            engine, changed, T0 + timedelta(hours=hours // 2, seconds=1)
        ),
    }
    cases["in order, fresh engine"] = lambda: _fresh_engine(
        engine, changed, end + timedelta(hours=1)
    )
    return {name: statistics.median(case() for _ in range(repeat)) for name, case in cases.items()}


def _fresh_engine(engine: Engine, raw: bytes, moment: datetime) -> float:
    """One in-order sync through an engine made for it, as each tick of `serve` does."""
    url = engine.url.render_as_string(hide_password=False)
    started = time.perf_counter()
    tick = make_engine(url)
    result = sync_bytes(tick, raw, observed_at=moment)
    tick.dispose()
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    forget_run(engine, result.run_id)
    return elapsed


def _payload_at(engine: Engine, moment: datetime) -> bytes:
    from etl.store.archive import load_payload

    runs = sync_runs_table
    with engine.connect() as connection:
        sha256 = connection.execute(
            select(runs.c.payload_sha256).where(
                runs.c.observed_at == moment, runs.c.status == "succeeded"
            )
        ).scalar_one()
        return load_payload(connection, sha256)


def database(backend: str, postgres_url: str, folder: Path) -> tuple[Engine, Callable[[], None]]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'merge.db'}")
        upgrade(engine)
        return engine, engine.dispose
    schema = f"catalog_etl_bench_merge_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    engine = make_engine(f"{postgres_url}{separator}options=-csearch_path%3D{schema}")
    upgrade(engine)

    def drop() -> None:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=400)
    parser.add_argument("--hours", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"{args.hours} hourly observations of {args.models} models; median of {args.repeat}\n")
    print("| case | " + " | ".join(backends) + " |")
    print("|---|" + "---:|" * len(backends))
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            engine, close = database(backend, args.postgres_url, Path(folder))
            try:
                started = time.perf_counter()
                last = build(engine, args.models, args.hours)
                print(f"<!-- {backend}: history built in {time.perf_counter() - started:.1f} s -->")
                results[backend] = measure(engine, args.hours, last, args.repeat)
            finally:
                close()
    for case in next(iter(results.values())):
        cells = " | ".join(f"{results[b][case] * 1000:.0f} ms" for b in backends)
        print(f"| {case} | {cells} |")
    for backend in backends:
        ratio = results[backend]["late, one second"] / results[backend]["in order"]
        print(f"\n{backend}: late one second before the end / in order = {ratio:.2f}")


if __name__ == "__main__":
    main()
