"""The errors of a fetch: :class:`FetchError` and its subclasses.

::

    SyncError                     (etl.errors)
    └── FetchError                the upstream did not deliver a usable catalog
        ├── InvalidRequestError   malformed URL, unsupported scheme, unusable token (terminal)
        │   └── InsecureURLError  plain http:// to a host that is not loopback (terminal)
        ├── UpstreamHTTPError     a non-2xx answer: retryable for 429 and 5xx except
        │                         501, 505 and 511; terminal otherwise (401, 403, 404 ...)
        ├── TransportError        no usable answer: connect error, timeout, connection cut
        │                         short of its Content-Length (retryable)
        └── BadContentError       an answer that is not a catalog: not JSON, empty, over
                                  max_bytes, truncated JSON, broken pagination (terminal)

Every error carries ``retryable``, ``http_status`` (``None`` when no answer came) and
``attempts`` (HTTP requests made when it was raised), and its message is one line that
names the URL as :func:`safe_url` prints it. The token never appears in a message, a
``repr``, a log line or a :class:`FetchResult`.
"""

from __future__ import annotations

from typing import Self

from etl.errors import SyncError
from etl.ingest.fetch.messages import _scrub


class FetchError(SyncError):
    """The upstream did not deliver a usable catalog."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        http_status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.retryable = type(self).retryable if retryable is None else retryable
        self.http_status = http_status
        self.attempts = attempts

    def _finish(self, attempts: int, note: str | None, token: str | None) -> Self:
        # The message is only final once the retry loop knows how it ended.
        message = str(self) + (f" ({note})" if note else "")
        self.args = (_scrub(message, token),)
        self.attempts = attempts
        return self


class InvalidRequestError(FetchError):
    """The request cannot be made as given: malformed URL, unsupported scheme, bad token."""


class InsecureURLError(InvalidRequestError):
    """Plain http:// to a host that is not loopback: the token and catalog would be exposed."""


class UpstreamHTTPError(FetchError):
    """The upstream answered with a status other than 2xx."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        http_status: int | None = None,
        attempts: int = 0,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, http_status=http_status, attempts=attempts)
        self.retry_after = retry_after
        """Seconds the upstream asked to wait (Retry-After), uncapped; None if it did not."""


class TransportError(FetchError):
    """No usable answer arrived: the connection failed, timed out or was cut short."""

    retryable = True


class BadContentError(FetchError):
    """An answer arrived but is not a catalog: not JSON, empty, too big or truncated."""
