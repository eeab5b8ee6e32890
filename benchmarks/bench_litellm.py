"""`catalog-etl backfill --git` of six real LiteLLM releases, on SQLite and PostgreSQL.

    python benchmarks/bench_litellm.py [--repeat 3] [--source DIR] [--postgres-url URL]
                                       [--between N]

Builds a temporary git repository that commits LiteLLM's `model_prices_and_context_window.json`
six times, once per release of ../shared/catalogs/litellm (1.0.0 to 1.110.2, 19 KB to 3.5 MB,
90 to 4,878 entries), each commit dated at the release's upload time, as a repository scraping
the file would. Then, for each backend and each of --repeat runs, a fresh database (a SQLite
file; a private PostgreSQL schema, dropped after) and one `catalog-etl backfill --git ... --path
... --allow-mass-removal --format json` process, timed as a whole (start-up included).
Reports the median and range of those times, the snapshots applied, the rows written per table,
the archive's size, and as a floor the time to parse, detect and normalize the six releases in
this process without a database (and `json.loads` of them alone).

LiteLLM's real git history commits the file several times a week. `--between N` stands in for
it: between each two releases it commits N more versions of the file, evenly spaced in time,
the i-th holding the earlier release with the first i/(N+1) of the later release's entries
(new, changed or gone) already applied. `--between 90` makes 456 commits over three years.

Without --allow-mass-removal the guard holds providers at 1.77.7, 1.83.8 and 1.110.2 (releases
months apart remove many models per provider): the benchmark measures the history as applied.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etl.db.engine import make_engine  # noqa: E402
from etl.db.tables import metadata, payloads_table  # noqa: E402
from etl.ingest.shapes import parse_catalog  # noqa: E402
from etl.ingest.validate import build_catalog  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402
from etl.times import parse_time  # noqa: E402

SOURCE = ROOT.parent / "shared" / "catalogs" / "litellm"
FILE = "model_prices_and_context_window.json"
TABLES = ("models", "model_versions", "prices", "model_availability", "capability_sets")


def make_repository(releases: list[Path], folder: Path, between: int = 0) -> Path:
    """A git repository committing each release's bytes at its observation time, and
    ``between`` intermediate versions between each two releases."""
    repo = folder / "litellm"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)

    def commit(raw: bytes, when: datetime, message: str) -> None:
        (repo / FILE).write_bytes(raw)
        env = {**os.environ, "GIT_COMMITTER_DATE": when.isoformat()}
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"]
        subprocess.run([*git, "add", FILE], check=True)
        subprocess.run([*git, "commit", "-q", "-m", message], check=True, env=env)

    previous: tuple[datetime, bytes] | None = None
    for release in releases:
        raw = gzip.decompress(release.read_bytes())
        when = parse_time(release.name.split(".")[0])
        if previous is not None:
            for step, (moment, version) in enumerate(_between(*previous, when, raw, between)):
                commit(version, moment, f"{release.name} step {step + 1}")
        commit(raw, when, release.name)
        previous = (when, raw)
    return repo


def _between(
    since: datetime, old: bytes, until: datetime, new: bytes, count: int
) -> Iterator[tuple[datetime, bytes]]:
    """``count`` versions on the way from ``old`` to ``new``, evenly spaced in time."""
    before, after = json.loads(old), json.loads(new)
    keys = list(dict.fromkeys([*after, *before]))
    for step in range(1, count + 1):
        done = set(keys[: len(keys) * step // (count + 1)])
        version = {k: v for k, v in before.items() if k not in done}
        version.update({k: after[k] for k in keys if k in done and k in after})
        moment = since + (until - since) * step / (count + 1)
        yield moment, json.dumps(version, indent=4).encode()


@contextmanager
def fresh_database(backend: str, postgres_url: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database at the latest revision, removed afterwards."""
    if backend == "sqlite":
        path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)  # as on PostgreSQL: the timed process finds the schema in place
        engine.dispose()
        yield f"sqlite:///{path}"
        for leftover in folder.glob(path.name + "*"):
            leftover.unlink()
        return
    schema = f"catalog_etl_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    engine = make_engine(url_text)
    upgrade(engine)
    engine.dispose()
    try:
        yield url_text
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def backfill_process(repo: Path, url: str) -> tuple[float, dict[str, object]]:
    """Wall time of one `catalog-etl backfill --git` process, and its JSON report."""
    command = [
        sys.executable, "-m", "etl", "backfill", "--git", str(repo), "--path", FILE,
        "--allow-mass-removal", "--database-url", url, "--format", "json",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"backfill failed ({done.returncode}): {done.stderr.strip()}")
    report: dict[str, object] = json.loads(done.stdout)
    return seconds, report


def rows(url: str) -> dict[str, int]:
    """Rows of the history tables, and the archive's stored bytes."""
    engine = make_engine(url)
    tables = {table.name: table for table in metadata.sorted_tables}
    with engine.connect() as connection:
        counts = {
            name: connection.execute(select(func.count()).select_from(tables[name])).scalar_one()
            for name in TABLES
        }
        archive = select(func.sum(func.length(payloads_table.c.content)))
        counts["archive bytes"] = connection.execute(archive).scalar_one()
    engine.dispose()
    return counts


def parse_floor(releases: list[Path]) -> tuple[float, float]:
    """Seconds to parse, detect and normalize the six releases without a database, and to
    `json.loads` them alone (decompression excluded from both)."""
    payloads = [gzip.decompress(release.read_bytes()) for release in releases]
    start = time.perf_counter()
    for raw in payloads:
        build_catalog(parse_catalog(raw)[1])
    normalize = time.perf_counter() - start
    start = time.perf_counter()
    for raw in payloads:
        json.loads(raw)
    return normalize, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--between", type=int, default=0, metavar="N")
    options = parser.parse_args()
    releases = sorted(options.source.glob("*.json.gz"))
    if len(releases) != 6:
        raise SystemExit(f"expected the six LiteLLM releases in {options.source}")
    backends = options.backend or ["sqlite", "postgresql"]

    folder = Path(tempfile.mkdtemp(prefix="bench-litellm-"))
    try:
        repo = make_repository(releases, folder, options.between)
        normalize, parse = parse_floor(releases)
        commits = len(releases) + options.between * (len(releases) - 1)
        print(f"Python {sys.version.split()[0]}; {commits} commits; {options.repeat} runs")
        print(f"floor: parse + detect + normalize {normalize:.3f} s, json.loads {parse:.3f} s\n")
        print("| backend | median s | min-max s | applied | " + " | ".join(TABLES) + " | archive |")
        print("|---|---:|---:|---:|" + "---:|" * (len(TABLES) + 1))
        for backend in backends:
            times, counts, applied = [], {}, None
            for _ in range(options.repeat):
                with fresh_database(backend, options.postgres_url, folder) as url:
                    seconds, report = backfill_process(repo, url)
                    times.append(seconds)
                    counts, applied = rows(url), report["applied"]
            cells = " | ".join(f"{counts[name]:,}" for name in TABLES)
            print(
                f"| {backend} | {statistics.median(times):.2f} | {min(times):.2f}-"
                f"{max(times):.2f} | {applied} | {cells} | {counts['archive bytes']:,} B |"
            )
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
