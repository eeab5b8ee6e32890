"""The APScheduler 3 jobs of ``catalog-etl serve``, one per catalog, with their settings
chosen on purpose.

Each job has a fixed id (:data:`JOB_ID`, or :func:`job_id` of its catalog in a service of
several) on one ``BackgroundScheduler`` whose pool has a worker thread per job, so that a
catalog whose upstream is slow or pausing between retries never holds up another's tick:

* ``max_instances=1``: a tick that comes while the previous sync of the same catalog still
  runs is dropped (with a warning from APScheduler), never run beside it.
* ``coalesce=True``: after a pause (a suspended machine, a sync longer than the period) the
  runs that were missed become one run, not a burst.
* ``misfire_grace_time`` = the schedule's period, explicitly: APScheduler 3's default of 1 s
  silently drops a run that starts a second late. With coalescing this means "once late,
  run once, as soon as possible".

The worker tells the service each run's job and scheduled time before the run starts: the
tick that run claims in the database (see :mod:`etl.service.scheduler`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from etl.service.schedules import Schedule

JOB_ID = "catalog-etl-sync"
"""The job of a service of one catalog (``serve --url``)."""


def job_id(catalog: str) -> str:
    """The job of ``catalog`` in a service of several."""
    return f"{JOB_ID}:{catalog}"


@dataclass(frozen=True)
class Job:
    """One scheduled job: its id, when it ticks, and what a tick runs."""

    id: str
    schedule: Schedule
    tick: Callable[[], None]
    name: str = "sync"


class _TickExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler 3 has no types
    """A worker thread per job that tells ``on_submit`` the job and the scheduled time of
    each run it is handed, before the run starts (``max_instances=1``: one at a time)."""

    def __init__(self, on_submit: Callable[[str, datetime], None], workers: int) -> None:
        super().__init__(max_workers=workers)
        self._on_submit = on_submit

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self._on_submit(job.id, run_times[-1])  # coalesced: the latest of the missed ones
        super()._do_submit_job(job, run_times)


def build_scheduler(
    schedule: Schedule,
    tick: Callable[[], None],
    *,
    run_now: bool = False,
    on_submit: Callable[[datetime], None] | None = None,
) -> Any:
    """A ``BackgroundScheduler`` (not started) with the one sync job :data:`JOB_ID` (see the
    module documentation for why each setting). ``on_submit`` is told each run's scheduled
    time before it starts."""
    told = (lambda _job, fired: on_submit(fired)) if on_submit else None
    return build_jobs([Job(JOB_ID, schedule, tick)], run_now=run_now, on_submit=told)


def build_jobs(
    jobs: Sequence[Job],
    *,
    run_now: bool = False,
    on_submit: Callable[[str, datetime], None] | None = None,
) -> Any:
    """A ``BackgroundScheduler`` (not started) with these jobs and a worker thread for each
    (see the module documentation). ``on_submit`` is told each run's job id and scheduled
    time before it starts; with ``run_now`` every job's first run is due at once."""
    workers = len(jobs)
    executor = _TickExecutor(on_submit, workers) if on_submit else ThreadPoolExecutor(workers)
    # Each trigger keeps its own time zone; the scheduler's only matters for a bare time.
    zone = jobs[0].schedule.timezone if len(jobs) == 1 else UTC
    scheduler = BackgroundScheduler(timezone=zone, executors={"default": executor})
    for job in jobs:
        options: dict[str, Any] = {}
        if run_now:
            options["next_run_time"] = datetime.now(job.schedule.timezone)
        scheduler.add_job(
            job.tick,
            trigger=job.schedule.trigger,
            id=job.id,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=job.schedule.misfire_grace_time,
            replace_existing=True,
            **options,
        )
    return scheduler
