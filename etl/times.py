"""Points in time as users write them, always turned into aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# 2026-03-02T010322Z: the compact form used in snapshot file names.
_COMPACT = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z$")


class TimeFormatError(ValueError):
    """Text that names no point in time."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """Read an ISO 8601 date or time, ``now``, or an age such as ``7d`` / ``12h`` (before now).

    A time without a zone is UTC; a bare date is its midnight UTC.
    """
    value = text.strip()
    reference = as_utc(now) if now is not None else utcnow()
    if value.lower() == "now":
        return reference
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        return reference - timedelta(**{_UNITS[unit]: int(amount)})
    compact = _COMPACT.match(value)
    if compact:
        y, mo, d, h, mi, s, frac = compact.groups()
        value = f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac or ''}+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TimeFormatError(
            f"cannot read {text!r} as a time: use ISO 8601 (2026-03-02 or 2026-03-02T01:03:22Z)"
            " or an age such as 7d"
        ) from None
    return as_utc(parsed)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the form every output of catalog-etl uses."""
    text = as_utc(moment).isoformat()
    return text.removesuffix("+00:00") + "Z"


DEFAULT_MAX_CLOCK_SKEW = 300.0
"""Seconds an observation may lie in the future (clocks differ a little); beyond, refused."""


def future_problem(moment: datetime, skew: float = DEFAULT_MAX_CLOCK_SKEW) -> str | None:
    """Why an observation at ``moment`` cannot be accepted yet (it lies more than ``skew``
    seconds ahead of this machine's clock), or None. A time years ahead (a typo, a file
    name, a bad clock) would otherwise stay "current" whatever came after it."""
    if moment <= utcnow() + timedelta(seconds=skew):
        return None
    return (
        f"observed at {iso(moment)}, more than {skew:g} s in the future: check the time"
        " given (--observed-at, a file name) or this machine's clock"
    )


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``1d``, ``1w``, combined (``1h30m``), or a bare number of
    seconds; whole units only."""
    value = text.strip().lower()
    if value.isdigit():
        return timedelta(seconds=int(value))
    parts = _DURATION.findall(value)
    if not parts or _DURATION.sub("", value).strip():
        raise TimeFormatError(
            f"cannot read {text!r} as a duration: use a number with a unit, such as 30s, 15m,"
            " 1h, 1d or 1h30m"
        )
    return timedelta(seconds=sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in parts))


def format_duration(duration: timedelta) -> str:
    """The shortest text :func:`parse_duration` reads back: ``1h30m``, ``45s``, ``1d``."""
    seconds = int(duration.total_seconds())
    if seconds == 0:
        return "0s"
    text = ""
    for unit in "dhms":
        amount, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if amount:
            text += f"{amount}{unit}"
    return text
