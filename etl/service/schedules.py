"""Schedules for ``catalog-etl serve``: ``--every`` durations and 5-field ``--cron``
expressions, as APScheduler 3 triggers.

``--every`` ticks fall on multiples of the interval since the Unix epoch (1h: at every full
hour UTC; 15m: at :00, :15, :30, :45), so replicas with the same schedule tick together and
the sync lock lets exactly one of them apply. ``--cron`` is standard cron: 0 or 7 is Sunday
(APScheduler counts from Monday), names and steps work, and when both the day of month and
the day of week are restricted either one matches.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from etl.times import format_duration, utcnow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CRON_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


class ScheduleError(ValueError):
    """A schedule, duration or time zone that cannot be used; the message says why."""


def parse_timezone(name: str) -> tzinfo:
    """An IANA time zone (``Europe/Paris``) or ``UTC``."""
    if name.strip().upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Paris, or UTC"
        ) from None


class EveryTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """Fires at multiples of ``interval`` since the Unix epoch, each time plus a random delay
    of up to ``jitter`` seconds. Unlike APScheduler's ``IntervalTrigger`` the next time never
    depends on when (or how late, or how jittered) the previous one fired, so replicas stay
    aligned and jitter does not drift."""

    __slots__ = ("interval", "jitter", "timezone")

    def __init__(self, interval: int, *, jitter: float | None = None, timezone: tzinfo = UTC):
        if interval < 1:
            raise ScheduleError("the interval must be at least 1 second")
        self.interval = interval
        self.jitter = jitter
        self.timezone = timezone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is not None:
            # The slot after the previous one (whose time may carry jitter).
            slot = math.floor(previous_fire_time.timestamp() / self.interval) + 1
        else:
            slot = math.ceil(now.timestamp() / self.interval)
        moment = _EPOCH + timedelta(seconds=slot * self.interval)
        if self.jitter:
            moment += timedelta(seconds=random.uniform(0, self.jitter))
        return moment.astimezone(self.timezone)

    def __str__(self) -> str:
        return f"every {format_duration(timedelta(seconds=self.interval))}"

    def __repr__(self) -> str:
        return f"<EveryTrigger (interval={self.interval}, jitter={self.jitter})>"


def _cron_day(token: str, expression: str) -> int:
    """A day of week as cron numbers it: 0 to 7 (both Sunday), or a name (``mon``, ``monday``)."""
    if token.isdigit() and int(token) <= 7:
        return int(token)
    for number, name in enumerate(_CRON_DAY_NAMES):
        if token in (name[:3], name):
            return number
    raise ScheduleError(f"invalid day of week {token!r} in cron expression {expression!r}")


def _cron_days(field_text: str, expression: str) -> str:
    """Standard cron's day of week (0 and 7 are Sunday) as APScheduler 3's day names, whose
    numbers start at Monday."""
    if field_text == "*":
        return "*"
    days: set[int] = set()
    for item in field_text.lower().split(","):
        base, slash, step_text = item.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ScheduleError(f"invalid step {item!r} in cron expression {expression!r}")
        step = int(step_text) if slash else 1
        # As cronie expands them: `*` is 0-7, and `N/step` is N-7/step.
        if base == "*":
            low, high = 0, 7
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _cron_day(first, expression), _cron_day(last, expression)
            if low > high:
                raise ScheduleError(f"invalid range {item!r} in cron expression {expression!r}")
        else:
            low = _cron_day(base, expression)
            high = 7 if slash else low
        days.update(day % 7 for day in range(low, high + 1, step))
    ordered = sorted(days, key=lambda day: (day + 6) % 7)  # Monday first, as APScheduler
    return ",".join(_CRON_DAYS[day] for day in ordered)


def cron_trigger(expression: str, *, timezone: tzinfo = UTC, jitter: float | None = None) -> Any:
    """An APScheduler trigger for a standard 5-field cron line (or ``@hourly``, ``@daily``,
    ``@weekly``, ``@monthly``, ``@yearly``).

    Two places where APScheduler 3's own ``CronTrigger.from_crontab`` differs from cron are
    handled here: day-of-week numbers (cron: 0 = Sunday; APScheduler: 0 = Monday), and a
    line restricting both the day of month and the day of week, which cron fires when
    *either* matches (APScheduler: both)."""
    line = _CRON_MACROS.get(expression.strip().lower(), expression)
    fields = line.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5: minute hour"
            " day-of-month month day-of-week, such as '17 * * * *'"
        )
    minute, hour, day, month, weekday = fields
    day_of_week = _cron_days(weekday, expression)

    def make(days: str, weekdays: str, jitter: float | None) -> Any:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=days,
            month=month,
            day_of_week=weekdays,
            timezone=timezone,
            jitter=jitter,
        )

    try:
        if day.startswith("*") or weekday.startswith("*"):
            return make(day, day_of_week, jitter)
        return OrTrigger([make(day, "*", None), make("*", day_of_week, None)], jitter=jitter)
    except ValueError as error:
        raise ScheduleError(f"invalid cron expression {expression!r}: {error}") from None


@dataclass(frozen=True)
class Schedule:
    trigger: Any
    """The APScheduler trigger."""
    description: str
    """As stored in ``services.schedule``: ``every 1h`` or ``cron 17 * * * * (UTC)``."""
    period: timedelta
    """The gap between two ticks (for cron: between the next two)."""
    timezone: tzinfo = UTC
    plain: Any = None
    """The trigger without jitter (the same as ``trigger`` when there is none)."""
    jitter: float = 0.0
    """Seconds of random delay added to each tick."""

    def tick_of(self, fired: datetime) -> datetime:
        """The scheduled tick a fire time belongs to, jitter taken off: the same on every
        replica with this schedule, whatever delay each drew (the jitter is shorter than
        the gap between two ticks)."""
        plain = self.plain or self.trigger
        start = fired - timedelta(seconds=self.jitter)
        tick: datetime | None = plain.get_next_fire_time(None, start)
        return (tick or fired).astimezone(UTC)

    @property
    def misfire_grace_time(self) -> int:
        """Seconds a tick may start late and still run: one period."""
        return max(1, math.ceil(self.period.total_seconds()))


def _check_jitter(jitter: timedelta | None, period: timedelta) -> float | None:
    if jitter is None or not jitter:
        return None
    if jitter >= period:
        raise ScheduleError(
            f"the jitter ({format_duration(jitter)}) must be shorter than the time between"
            f" two runs ({format_duration(period)})"
        )
    return jitter.total_seconds()


def every(
    interval: timedelta, *, jitter: timedelta | None = None, timezone: tzinfo = UTC
) -> Schedule:
    """A tick every ``interval`` (whole seconds, at least 1 s), aligned to the epoch."""
    seconds = interval.total_seconds()
    if seconds < 1 or seconds != int(seconds):
        raise ScheduleError("the interval must be a whole number of seconds, at least 1s")
    spread = _check_jitter(jitter, interval)
    description = f"every {format_duration(interval)}"
    if spread:
        description += f", jitter {format_duration(timedelta(seconds=spread))}"
    trigger = EveryTrigger(int(seconds), jitter=spread, timezone=timezone)
    plain = EveryTrigger(int(seconds), timezone=timezone)
    return Schedule(trigger, description, interval, timezone, plain, spread or 0.0)


def cron(expression: str, *, jitter: timedelta | None = None, timezone: tzinfo = UTC) -> Schedule:
    """A tick at each time the cron line matches, in ``timezone``."""
    plain = cron_trigger(expression, timezone=timezone)
    first = plain.get_next_fire_time(None, utcnow())
    if first is None:
        raise ScheduleError(f"cron expression {expression!r} never matches")
    second = plain.get_next_fire_time(first, first + timedelta(microseconds=1))
    period = (second - first) if second is not None else timedelta(days=366)
    spread = _check_jitter(jitter, period)
    zone = getattr(timezone, "key", None) or str(timezone)
    description = f"cron {' '.join(expression.split())} ({zone})"
    if spread:
        description += f", jitter {format_duration(timedelta(seconds=spread))}"
    trigger = cron_trigger(expression, timezone=timezone, jitter=spread) if spread else plain
    return Schedule(trigger, description, period, timezone, plain, spread or 0.0)


def schedule_of(
    *,
    every_interval: timedelta | None,
    cron_expression: str | None,
    timezone: tzinfo = UTC,
    jitter: timedelta | None = None,
) -> Schedule:
    """The schedule of exactly one of ``every_interval`` and ``cron_expression``."""
    if (every_interval is None) == (cron_expression is None):
        raise ScheduleError("give the schedule: either every DURATION or cron EXPR")
    if every_interval is not None:
        return every(every_interval, jitter=jitter, timezone=timezone)
    return cron(cron_expression or "", jitter=jitter, timezone=timezone)
