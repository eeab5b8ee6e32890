"""``catalog-etl db compact``: payloads archived as frames of their own (by earlier versions)
turned into deltas, in place, as :mod:`etl.store.archive` stores new ones.

Payloads are taken in the order they were observed, so that each one's base has been
converted before it (and its chain length is final). One payload at a time is read, with its
base: memory does not grow with the archive. Each batch is a transaction of its own under
the sync lock, so a compaction that is stopped keeps what it converted and the next one
carries on. A payload another one already points at stays a frame of its own (converting it
would lengthen chains that are already stored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, exists, func, select, update

from etl.db.tables import payloads_table, sync_runs_table
from etl.store.archive import DELTA, base_for, delta_frame, load_payload, previous_payload
from etl.store.locks import sync_transaction

BATCH = 20
"""Payloads converted per transaction."""


@dataclass
class Compacted:
    payloads: int = 0
    """Frames of their own turned into deltas."""
    stored_before: int = 0
    """Bytes those payloads took before..."""
    stored_after: int = 0
    """...and after."""


def compact(
    engine: Engine,
    *,
    batch: int = BATCH,
    wait: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> Compacted:
    """Convert every payload that can be a delta; ``progress(done, total)`` as it goes."""
    report = Compacted()
    with engine.connect() as connection:
        todo = _candidates(connection)
    for start in range(0, len(todo), batch):
        with sync_transaction(engine, wait=wait) as connection:
            for sha256 in todo[start : start + batch]:
                _convert(connection, sha256, report)
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
    return report


def _candidates(connection: Connection) -> list[str]:
    """Frames of their own that nothing points at, by their first observation."""
    payloads, runs = payloads_table, sync_runs_table
    child = payloads.alias("child")
    first_seen = (
        select(runs.c.payload_sha256, func.min(runs.c.observed_at).label("observed_at"))
        .where(runs.c.payload_sha256.is_not(None), runs.c.observed_at.is_not(None))
        .group_by(runs.c.payload_sha256)
        .subquery()
    )
    query = (
        select(payloads.c.sha256)
        .join(first_seen, first_seen.c.payload_sha256 == payloads.c.sha256)
        .where(
            payloads.c.base_sha256.is_(None),
            ~exists().where(child.c.base_sha256 == payloads.c.sha256),
        )
        .order_by(first_seen.c.observed_at)
    )
    return list(connection.execute(query).scalars())


def _convert(connection: Connection, sha256: str, report: Compacted) -> None:
    payloads, runs = payloads_table, sync_runs_table
    row = connection.execute(
        select(
            payloads.c.size_bytes, payloads.c.base_sha256, func.length(payloads.c.content)
        ).where(payloads.c.sha256 == sha256)
    ).one()
    first = connection.execute(
        select(runs.c.catalog_id, runs.c.observed_at)
        .where(runs.c.payload_sha256 == sha256, runs.c.observed_at.is_not(None))
        .order_by(runs.c.observed_at)
        .limit(1)
    ).one()
    previous = previous_payload(connection, first.catalog_id, first.observed_at)
    base = base_for(connection, previous, row.size_bytes) if previous is not None else None
    if row.base_sha256 is not None or base is None or base.sha256 == sha256:
        return  # converted meanwhile, or the first of its chain
    frame = delta_frame(load_payload(connection, base.sha256), load_payload(connection, sha256))
    connection.execute(
        update(payloads)
        .where(payloads.c.sha256 == sha256)
        .values(compression=DELTA, content=frame, base_sha256=base.sha256, depth=base.depth + 1)
    )
    report.payloads += 1
    report.stored_before += row[2]
    report.stored_after += len(frame)
