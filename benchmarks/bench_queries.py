"""Report query timings on a large history: 365 daily observations of a 2,000-model
catalog, on SQLite and PostgreSQL.

    python benchmarks/bench_queries.py [--models 2000] [--days 365] [--repeat 5]
        [--backend sqlite|postgresql|both] [--postgres-url URL] [--keep DIR] [--rebuild]

The history is synthetic but goes through the real sync pipeline, one sync per day: every
day about 8 models change a price, 6 change an attribute (context length, a parameter),
one model in two is added and one in three is removed (a third of those come back later).
Building it takes a few minutes, so it is kept (a SQLite file in --keep, a PostgreSQL
schema named after the size) and reused until --rebuild.

Cases, each the median and worst wall time of --repeat runs in this process, and the median
CPU time of this process (the database server's own work on PostgreSQL is not in it; on a
busy machine the CPU time is the steadier figure). The target: well under a second.
  diff 1d / 7d / 30d / 364d     net difference over windows ending at the last day
  diff 365d                     from before the first observation: everything is "added"
  diff --events 7d / 365d       every change in the window with its time
  history                       the model with the most versions
  prices                        the whole catalog as of the last day, sorted by prompt
  report (no charts)            the document behind `catalog-etl report`
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etl.db.engine import make_engine  # noqa: E402
from etl.db.tables import model_versions_table, models_table, prices_table, sync_runs_table  # noqa: E402
from etl.pipeline import sync_bytes  # noqa: E402
from etl.read.change_events import change_events  # noqa: E402
from etl.read.history import model_history  # noqa: E402
from etl.read.net_changes import net_changes  # noqa: E402
from etl.read.prices import price_table  # noqa: E402
from etl.read.queries import NO_FILTERS  # noqa: E402
from etl.reports import report  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402

T0 = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
PARAMETERS = ["max_tokens", "temperature", "top_p", "tools", "tool_choice", "seed", "stop"]
PRICES = [f"0.{'0' * zeros}{digits}" for zeros in (5, 6, 7) for digits in (1, 15, 25, 3, 6, 8)]


def model(rng: random.Random, index: int) -> dict[str, Any]:
    vendor = f"vendor{index % 60}"
    return {
        "id": f"{vendor}/model-{index}",
        "canonical_slug": f"{vendor}/model-{index}",
        "hugging_face_id": "",
        "name": f"Vendor {index % 60}: Model {index}",
        "created": 1700000000 + index,
        "description": f"Synthetic model {index}, for benchmarks.",
        "context_length": rng.choice([8192, 32768, 131072, 200000, 1048576]),
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {"prompt": rng.choice(PRICES), "completion": rng.choice(PRICES)},
        "top_provider": {"context_length": 131072, "max_completion_tokens": 8192},
        "supported_parameters": rng.sample(PARAMETERS, 4),
    }


def build(engine: Engine, models: int, days: int) -> None:
    """One sync per day of a catalog that drifts the way real ones do."""
    rng = random.Random(20261126)
    listed = {i: model(rng, i) for i in range(models)}
    gone: dict[int, dict[str, Any]] = {}
    next_index = models
    started = time.perf_counter()
    for day in range(days):
        for item in (listed[i] for i in rng.sample(sorted(listed), 8)):
            item["pricing"] = {"prompt": rng.choice(PRICES), "completion": rng.choice(PRICES)}
        for item in (listed[i] for i in rng.sample(sorted(listed), 6)):
            if rng.random() < 0.5:
                item["context_length"] = rng.choice([32768, 65536, 131072, 262144])
            else:
                item["supported_parameters"] = rng.sample(PARAMETERS, rng.randint(2, 6))
        if day % 2 == 0:
            listed[next_index] = model(rng, next_index)
            next_index += 1
        if day % 3 == 0:
            index = rng.choice(sorted(listed))
            gone[index] = listed.pop(index)
        if day % 9 == 0 and gone:
            index = rng.choice(sorted(gone))
            listed[index] = gone.pop(index)
        raw = json.dumps({"data": list(listed.values())}).encode()
        result = sync_bytes(engine, raw, observed_at=T0 + timedelta(days=day))
        assert result.ok, result.error
        if day % 30 == 0:
            elapsed = time.perf_counter() - started
            print(f"  day {day + 1}/{days}, {len(listed)} models, {elapsed:.0f} s", flush=True)


def history_engine(backend: str, args: argparse.Namespace) -> Engine:
    """The kept history of this size, built first when missing (or with --rebuild)."""
    name = f"catalog_etl_bench_{args.models}x{args.days}"
    if backend == "sqlite":
        path = Path(args.keep) / f"{name}.db"
        if args.rebuild:
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
        engine = make_engine(f"sqlite:///{path}")
    else:
        admin = make_engine(args.postgres_url)
        with admin.begin() as connection:
            if args.rebuild:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
        admin.dispose()
        separator = "&" if "?" in args.postgres_url else "?"
        engine = make_engine(f"{args.postgres_url}{separator}options=-csearch_path%3D{name}")
    upgrade(engine)
    with engine.connect() as connection:
        runs = connection.execute(
            select(func.count())
            .select_from(sync_runs_table)
            .where(sync_runs_table.c.status == "succeeded")
        ).scalar_one()
    if runs != args.days:
        if runs:
            sys.exit(f"{backend}: a partial history ({runs} runs) is kept; use --rebuild")
        print(f"{backend}: building {args.days} days of {args.models} models ...", flush=True)
        build(engine, args.models, args.days)
    return engine


def busiest_model(connection: Connection) -> str:
    model: str = connection.execute(
        select(models_table.c.model)
        .join(model_versions_table, model_versions_table.c.model_id == models_table.c.id)
        .group_by(models_table.c.model)
        .order_by(func.count().desc(), models_table.c.model)
        .limit(1)
    ).scalar_one()
    return model


def cases(connection: Connection, last: datetime) -> dict[str, Callable[[], object]]:
    model = busiest_model(connection)

    def window(days: int) -> tuple[datetime, datetime]:
        return last - timedelta(days=days), last

    return {
        "diff 1d": lambda: net_changes(connection, *window(1)),
        "diff 7d": lambda: net_changes(connection, *window(7)),
        "diff 30d": lambda: net_changes(connection, *window(30)),
        "diff 364d (first day to last)": lambda: net_changes(connection, *window(364)),
        "diff 365d (from before the first)": lambda: net_changes(connection, *window(365)),
        "diff --events 7d": lambda: change_events(connection, *window(7)),
        "diff --events 365d": lambda: change_events(connection, *window(365)),
        f"history {model}": lambda: model_history(connection, model),
        "prices (sort prompt)": lambda: price_table(connection, last, sort="prompt"),
        "report 30d (no charts)": lambda: report.build(
            connection, *window(30), NO_FILTERS, max_charts=0
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", default=tempfile.gettempdir(), help="folder for the SQLite file")
    parser.add_argument("--rebuild", action="store_true", help="build the history again")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        engine = history_engine(backend, args)
        with engine.connect() as connection:
            counts = {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (models_table, model_versions_table, prices_table)
            }
            last = connection.execute(select(func.max(sync_runs_table.c.observed_at))).scalar_one()
            print(f"\n{backend}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
            print(f"{'case':<34} {'median':>9} {'max':>9} {'cpu':>9}")
            for name, run in cases(connection, last).items():
                times, cpu = [], []
                for _ in range(args.repeat):
                    started, started_cpu = time.perf_counter(), time.process_time()
                    run()
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - started_cpu)
                flag = "" if statistics.median(times) < 1 else "  <- over 1 s"
                print(
                    f"{name:<34} {statistics.median(times) * 1000:7.0f}ms"
                    f" {max(times) * 1000:7.0f}ms {statistics.median(cpu) * 1000:7.0f}ms{flag}"
                )
        engine.dispose()


if __name__ == "__main__":
    main()
