"""What one sync brought: the net changes between the observation before it and its own.

The unit of news: a notification and a feed entry each describe one run. A run's changes are
the net difference between the catalog as of the succeeded observation just before it and as
of its own observation, so a late observation merged into the past is described against its
own neighbour, and a run that changed nothing has an empty report (so has a repeat of the
payload observed at the same time: the changes are the first run's). Everything is within
the run's own catalog: the observation before it is its catalog's, and so are the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from etl.db.tables import catalogs_table, sync_runs_table
from etl.read.catalogs import CatalogScope
from etl.read.changes import ChangeReport
from etl.read.net_changes import net_changes

_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class RunChanges:
    """One succeeded run and what it changed."""

    run_id: int
    observed_at: datetime
    previous_at: datetime | None
    """The observation of its catalog before it; None for the first one (everything is
    new)."""
    report: ChangeReport
    catalog: str | None = None
    """The name of its catalog."""

    @property
    def empty(self) -> bool:
        report = self.report
        return not (
            report.added
            or report.removed
            or report.returned
            or report.price_changes
            or report.changes
        )


def run_changes(connection: Connection, run_id: int) -> RunChanges:
    """The changes of succeeded run ``run_id`` (:class:`LookupError` for another)."""
    runs = sync_runs_table.c
    found = connection.execute(
        select(runs.observed_at, runs.catalog_id, catalogs_table.c.name)
        .join(catalogs_table, catalogs_table.c.id == runs.catalog_id)
        .where(runs.id == run_id, runs.status == "succeeded")
    ).one_or_none()
    if found is None:
        raise LookupError(f"run {run_id} is not a succeeded run")
    observed_at, catalog_id, catalog = found
    scope = CatalogScope({catalog_id: catalog}, frozenset({catalog_id}), ())
    succeeded = (runs.status == "succeeded", runs.catalog_id == catalog_id)
    first_at_that_time = connection.execute(
        select(func.min(runs.id)).where(*succeeded, runs.observed_at == observed_at)
    ).scalar_one()
    if first_at_that_time != run_id:
        # The same payload synced again at the same time: a no-op recorded as succeeded.
        # What changed at that time was the first run's news; this one brought none.
        report = net_changes(connection, observed_at, observed_at, catalogs=scope)
        return RunChanges(run_id, observed_at, observed_at, report, catalog)
    previous_at = connection.execute(
        select(func.max(runs.observed_at)).where(*succeeded, runs.observed_at < observed_at)
    ).scalar_one()
    # The first observation is measured against the empty catalog just before it.
    since = previous_at if previous_at is not None else observed_at - _EPSILON
    report = net_changes(connection, since, observed_at, catalogs=scope)
    return RunChanges(run_id, observed_at, previous_at, report, catalog)


def recent_runs(
    connection: Connection, since: datetime, limit: int, catalogs: CatalogScope | None = None
) -> Sequence[int]:
    """Succeeded runs of the catalogs read (all when None) observed at or after ``since``
    that changed something (by their counts), newest observation first, at most ``limit``."""
    runs = sync_runs_table.c
    changed = (
        runs.added + runs.removed + runs.returned + runs.versions_written + runs.price_changes
    ) > 0
    query = (
        select(runs.id)
        .where(runs.status == "succeeded", runs.observed_at >= since, changed)
        .order_by(runs.observed_at.desc(), runs.id.desc())
        .limit(limit)
    )
    if catalogs is not None:
        query = catalogs.where_catalog(query, runs.catalog_id)
    return connection.execute(query).scalars().all()
