"""The one APScheduler 3 job of ``catalog-etl serve``, with its settings chosen on purpose.

It has a fixed id (:data:`JOB_ID`) on a ``BackgroundScheduler`` with a single worker thread:

* ``max_instances=1``: a tick that comes while the previous sync still runs is dropped (with
  a warning from APScheduler), never run beside it.
* ``coalesce=True``: after a pause (a suspended machine, a sync longer than the period) the
  runs that were missed become one run, not a burst.
* ``misfire_grace_time`` = the schedule's period, explicitly: APScheduler 3's default of 1 s
  silently drops a run that starts a second late. With coalescing this means "once late,
  run once, as soon as possible".

The worker tells the service each run's scheduled time before the run starts: the tick that
run claims in the database (see :mod:`etl.service.scheduler`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from etl.service.schedules import Schedule

JOB_ID = "catalog-etl-sync"
"""The one scheduled job."""


class _TickExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler 3 has no types
    """One worker thread that tells ``on_submit`` the scheduled time of each run it is
    handed, before the run starts (``max_instances=1``: one at a time)."""

    def __init__(self, on_submit: Callable[[datetime], None]) -> None:
        super().__init__(max_workers=1)
        self._on_submit = on_submit

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self._on_submit(run_times[-1])  # coalesced: the latest of the missed ones
        super()._do_submit_job(job, run_times)


def build_scheduler(
    schedule: Schedule,
    tick: Callable[[], None],
    *,
    run_now: bool = False,
    on_submit: Callable[[datetime], None] | None = None,
) -> Any:
    """A ``BackgroundScheduler`` (not started) with one worker thread and the one sync job
    (see the module documentation for why each setting). ``on_submit`` is told each run's
    scheduled time before it starts."""
    executor = _TickExecutor(on_submit) if on_submit else ThreadPoolExecutor(max_workers=1)
    scheduler = BackgroundScheduler(timezone=schedule.timezone, executors={"default": executor})
    options: dict[str, Any] = {}
    if run_now:
        options["next_run_time"] = datetime.now(schedule.timezone)
    scheduler.add_job(
        tick,
        trigger=schedule.trigger,
        id=JOB_ID,
        name="sync",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=schedule.misfire_grace_time,
        replace_existing=True,
        **options,
    )
    return scheduler
