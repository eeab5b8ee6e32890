"""What must hold in every database catalog-etl has written, whatever happened to it.

``assert_invariants(engine)`` is called after fault, concurrency and hostile-input tests:
- at most one current row per model (and per model and component, per provider);
- no inverted, empty or overlapping validity intervals; versions are contiguous, numbered
  1, 2, 3 ... and every model has exactly one current version;
- every history row was written by a succeeded run, at that run's observation time;
- every price is a positive amount (exact decimal text on SQLite) or dynamic with no amount;
- `models.available` agrees with the open availability interval;
- the archive holds every applied payload, byte for byte (its sha256 matches), each delta's
  base is there and its chain within bounds;
- re-deriving everything from the archive (`rebuild`) gives the same tables.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import Engine, select, text

from etl.backfill import rebuild
from etl.db.tables import (
    model_availability_table,
    model_versions_table,
    models_table,
    payloads_table,
    prices_table,
    provider_states_table,
    sync_runs_table,
)
from etl.ingest.money import canonical
from etl.store.archive import MAX_DEPTH, load_payload
from tests.helpers import natural_history


def _intervals(rows: Sequence[Any], key: Callable[[Any], Any], what: str) -> None:
    spans: dict[Any, list[tuple[Any, Any]]] = defaultdict(list)
    for row in rows:
        spans[key(row)].append((row.valid_from, row.valid_to))
    for owner, items in spans.items():
        items.sort()
        assert sum(1 for _, end in items if end is None) <= 1, f"{what} {owner}: two current rows"
        for start, end in items:
            assert end is None or start < end, f"{what} {owner}: empty or inverted interval"
        for (_, end), (following, _) in pairwise(items):
            assert end is not None and end <= following, f"{what} {owner}: overlap"


def assert_invariants(engine: Engine, *, check_rebuild: bool = True) -> None:
    with engine.connect() as connection:
        runs = {
            row.id: row
            for row in connection.execute(
                select(
                    sync_runs_table.c.id,
                    sync_runs_table.c.status,
                    sync_runs_table.c.observed_at,
                    sync_runs_table.c.payload_sha256,
                )
            )
        }
        versions = connection.execute(
            select(
                model_versions_table.c.model_id,
                model_versions_table.c.version,
                model_versions_table.c.valid_from,
                model_versions_table.c.valid_to,
                model_versions_table.c.sync_run_id,
            )
        ).all()
        prices = connection.execute(
            select(
                prices_table.c.model_id,
                prices_table.c.component,
                prices_table.c.amount,
                prices_table.c.dynamic,
                prices_table.c.valid_from,
                prices_table.c.valid_to,
                prices_table.c.sync_run_id,
            )
        ).all()
        availability = connection.execute(
            select(
                model_availability_table.c.model_id,
                model_availability_table.c.valid_from,
                model_availability_table.c.valid_to,
                model_availability_table.c.sync_run_id,
            )
        ).all()
        states = connection.execute(
            select(
                provider_states_table.c.provider_id,
                provider_states_table.c.valid_from,
                provider_states_table.c.valid_to,
                provider_states_table.c.sync_run_id,
            )
        ).all()
        models = connection.execute(select(models_table.c.id, models_table.c.available)).all()
        payloads = {
            row.sha256: row
            for row in connection.execute(
                select(
                    payloads_table.c.sha256,
                    payloads_table.c.compression,
                    payloads_table.c.base_sha256,
                    payloads_table.c.depth,
                )
            )
        }
        archived = {
            run.payload_sha256: load_payload(connection, run.payload_sha256)
            for run in runs.values()
            if run.status == "succeeded" and run.payload_sha256 in payloads
        }
        raw_amounts = (
            connection.execute(text("SELECT amount FROM prices WHERE amount IS NOT NULL"))
            .scalars()
            .all()
        )

    for rows, what in (
        (versions, "version"),
        (prices, "price"),
        (availability, "availability"),
        (states, "provider state"),
    ):
        for row in rows:
            run = runs[row.sync_run_id]
            assert run.status == "succeeded", f"{what} row written by a {run.status} run"
            assert row.valid_from == run.observed_at, f"{what} row not at its run's observation"

    _intervals(versions, lambda row: row.model_id, "model")
    _intervals(availability, lambda row: row.model_id, "availability of model")
    _intervals(states, lambda row: row.provider_id, "provider")
    _intervals(prices, lambda row: (row.model_id, row.component), "price")

    by_model: dict[int, list[Any]] = defaultdict(list)
    for row in versions:
        by_model[row.model_id].append(row)
    assert set(by_model) == {model.id for model in models}, "a model without versions"
    for model_id, rows in by_model.items():
        rows.sort(key=lambda r: r.version)
        assert [r.version for r in rows] == list(range(1, len(rows) + 1)), model_id
        assert rows[-1].valid_to is None, f"model {model_id} has no current version"
        for earlier, later in pairwise(rows):
            assert earlier.valid_to == later.valid_from, (
                f"model {model_id}: versions not contiguous"
            )

    open_ids = {row.model_id for row in availability if row.valid_to is None}
    for model in models:
        assert model.available == (model.id in open_ids), f"model {model.id} availability flag"

    for row in prices:
        if row.dynamic:
            assert row.amount is None
        else:
            assert isinstance(row.amount, Decimal) and row.amount > 0
    if engine.dialect.name == "sqlite":
        for stored in raw_amounts:
            assert isinstance(stored, str) and stored == canonical(Decimal(stored)), stored

    for run in runs.values():
        if run.status == "succeeded" and run.payload_sha256 is not None:
            assert run.payload_sha256 in payloads, f"run {run.id}: payload missing from the archive"
            raw = archived[run.payload_sha256]
            digest = hashlib.sha256(raw).hexdigest()
            assert digest == run.payload_sha256, f"run {run.id}: archived bytes differ"
    for row in payloads.values():
        assert row.compression in ("zstd", "gzip", "zstd-delta"), row.compression
        if row.base_sha256 is None:
            assert row.compression != "zstd-delta" and row.depth == 0, row.sha256
        else:
            base = payloads[row.base_sha256]
            assert row.depth == base.depth + 1 <= MAX_DEPTH, f"{row.sha256}: chain depth"

    if check_rebuild:
        before = natural_history(engine)
        rebuild(engine)
        assert natural_history(engine) == before, "rebuild from the archive changed the history"
