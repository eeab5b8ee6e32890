"""The retry policy: which answers are retried, the backoff between attempts (exponential,
with full jitter) and the wait an upstream asks for in Retry-After.

Retry-After (seconds or an HTTP date, capped) is honoured on every retried status, not only
429: gateways send it with 503 too. Other 5xx are retried like 500, except 501, 505 and 511,
which describe the request or the network rather than a passing fault.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from etl.ingest.fetch.errors import FetchError, UpstreamHTTPError
from etl.ingest.fetch.settings import FetchSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 5xx answers that describe the request itself, so repeating it cannot help.
TERMINAL_5XX = frozenset({501, 505, 511})


def _retryable(status: int) -> bool:
    """Whether an answer with this status (other than 2xx) is worth asking again."""
    return status in RETRY_STATUSES or (500 <= status < 600 and status not in TERMINAL_5XX)


def _backoff(
    tries: int, error: FetchError, settings: FetchSettings, random: Callable[[], float]
) -> float:
    """Seconds to wait before the next attempt, after ``tries`` attempts failed."""
    retry_after = error.retry_after if isinstance(error, UpstreamHTTPError) else None
    if retry_after is not None:
        return min(retry_after, settings.retry_after_cap)
    ceiling = settings.backoff_base * 2.0 ** min(tries - 1, 60)
    return random() * min(settings.backoff_max, ceiling)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a Retry-After header (delay or HTTP-date), or None if absent or unreadable.

    A date is measured against the answer's own Date header when there is one, so a skewed
    local clock does not stretch or cut the wait."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(headers.get("date", "")) or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
