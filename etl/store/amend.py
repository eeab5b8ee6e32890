"""What an operator can change about the timeline after the fact.

* :func:`forget_run` takes a mistaken observation out (a typo in ``--observed-at``, a file
  named with the wrong date, a machine with a bad clock): its run becomes ``forgotten`` and
  the history is what it would be had it never been synced. Its payload stays archived.
* :func:`release_run` applies what the mass-removal guard held, at the run's own time: the
  removal was real after all.

Both rewind to the run's time and apply the observations from there on again, in one
transaction under the sync lock: a running ``serve`` picks the result up at its next tick.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from etl.db.tables import sync_runs_table
from etl.errors import SyncError
from etl.store.history import Replayed, merge
from etl.store.locks import sync_transaction
from etl.store.rewind import drop_orphans
from etl.times import iso, utcnow

DEFAULT_LOCK_WAIT = 60.0
"""Seconds to wait for a sync in progress to finish."""


@dataclass
class Amended:
    """What taking a run out, or releasing it, did to the history."""

    run_id: int
    status: str
    """The run's status afterwards: ``forgotten``, or ``succeeded`` once released."""
    observed_at: datetime
    observations: int
    """Observations applied again, from the run's time on."""
    versions_written: int
    """Net new version rows (negative when versions went away)."""
    price_rows_written: int

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "observed_at": iso(self.observed_at)}


def forget_run(engine: Engine, run_id: int, *, wait: float = DEFAULT_LOCK_WAIT) -> Amended:
    """Take run ``run_id``'s observation out of the history."""
    with sync_transaction(engine, wait=wait) as connection:
        run = _run(connection, run_id, ("succeeded", "held"))
        note = f"forgotten at {iso(utcnow())} (catalog-etl runs forget)"
        connection.execute(
            _row(run_id).values(status="forgotten", error=note, normalization_version=None)
        )
        replayed = merge(connection, run.catalog_id, [], start=run.observed_at)
        drop_orphans(connection)
    return _amended(run_id, "forgotten", run.observed_at, replayed)


def release_run(engine: Engine, run_id: int, *, wait: float = DEFAULT_LOCK_WAIT) -> Amended:
    """Apply run ``run_id``'s catalog in full, held providers included, at its own time."""
    with sync_transaction(engine, wait=wait) as connection:
        run = _run(connection, run_id, ("succeeded", "held"))
        if not run.held_providers:
            raise SyncError(f"run {run_id} held nothing: there is nothing to release")
        held = ", ".join(sorted(run.held_providers))
        note = f"released at {iso(utcnow())} (catalog-etl runs release): {held}"
        connection.execute(
            _row(run_id).values(
                status="succeeded",
                held_providers=None,
                error=None,
                warnings=[*run.warnings, note],
            )
        )
        replayed = merge(connection, run.catalog_id, [], start=run.observed_at)
    return _amended(run_id, "succeeded", run.observed_at, replayed)


def _row(run_id: int) -> Any:
    return update(sync_runs_table).where(sync_runs_table.c.id == run_id)


def _run(connection: Connection, run_id: int, statuses: tuple[str, ...]) -> Any:
    run = connection.execute(
        select(
            sync_runs_table.c.status,
            sync_runs_table.c.catalog_id,
            sync_runs_table.c.observed_at,
            sync_runs_table.c.payload_sha256,
            sync_runs_table.c.held_providers,
            sync_runs_table.c.warnings,
        ).where(sync_runs_table.c.id == run_id)
    ).first()
    if run is None:
        raise SyncError(f"no run {run_id}: `catalog-etl runs` lists them")
    if run.status not in statuses or run.payload_sha256 is None or run.observed_at is None:
        raise SyncError(
            f"run {run_id} is {run.status}, not an observation: only a succeeded or held run"
            " with a payload can be forgotten or released"
        )
    return run


def _amended(run_id: int, status: str, observed_at: datetime, replayed: Replayed) -> Amended:
    return Amended(
        run_id,
        status,
        observed_at,
        replayed.observations,
        replayed.versions_written,
        replayed.price_rows_written,
    )
