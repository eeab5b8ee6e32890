"""Fetch a catalog over HTTP: the exact bytes of every page, bounded retries, no leaked token.

The upstream is a gateway that may be restarting, rate limiting or half-configured, so
transient failures are retried with exponential backoff and full jitter, within a total
time budget that keeps a scheduled sync under about two minutes. Failures that retrying
cannot fix (a bad token, a missing route, an HTML login page) fail at once. Nothing is
parsed except to follow pagination: the pipeline parses, and archives the exact bytes.

The parts: :mod:`.urls` (which URLs may be fetched, and how they are shown),
:mod:`.retry` (what is retried, and after how long), :mod:`.body` (reading an answer),
:mod:`.pagination`, :mod:`.messages` (the upstream's explanation in one line) and
:mod:`.errors`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from etl.ingest.decompress import ACCEPT_ENCODING
from etl.ingest.fetch.body import _Receiver
from etl.ingest.fetch.errors import (
    BadContentError,
    FetchError,
    InvalidRequestError,
    TransportError,
    UpstreamHTTPError,
)
from etl.ingest.fetch.messages import _cause, _scrub, _timed_out
from etl.ingest.fetch.pagination import _join_pages, _next_page, _paginated, _parse_page
from etl.ingest.fetch.retry import _backoff
from etl.ingest.fetch.settings import FetchSettings
from etl.ingest.fetch.urls import _check_secure, _origin, _parse_url, safe_url
from etl.version import package_version

logger = logging.getLogger("etl.fetch")

USER_AGENT = f"catalog-etl/{package_version()}"
MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchResult:
    raw: bytes = field(repr=False)
    """The exact bytes of a single page, or every page spliced into
    ``{"catalog_etl_pages": [<page 1>, <page 2>, ...]}`` (see :mod:`etl.ingest.shapes`)."""
    http_status: int
    """Status of the last answer."""
    attempts: int
    """HTTP requests made in total, retries included."""
    pages: int
    url: str
    """The requested URL as :func:`safe_url` shows it."""


def fetch_catalog(
    url: str,
    *,
    token: str | None = None,
    settings: FetchSettings = FetchSettings(),  # noqa: B008 (frozen, so one shared default is safe)
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    random: Callable[[], float] = random.random,
) -> FetchResult:
    """GET a catalog, following pagination; raise a :class:`FetchError` if it cannot.

    ``token`` is sent as ``Authorization: Bearer`` to the origin of ``url`` only (an empty
    token counts as none). A ``client`` given by the caller is used as is (its redirect
    policy included) and left open, but every request gets this fetch's timeouts.
    """
    token = token or None
    shown = _scrub(safe_url(url), token)
    target = _parse_url(url, shown, settings)
    if token is not None:
        _check_token(token, settings.token_source)
    own_client = client is None
    http = client if client is not None else _make_client(settings)
    fetch = _Fetch(http, target, token, settings, sleep=sleep, clock=clock, random=random)
    # Our own client follows redirects (each hop checked first); a caller's as it says.
    fetch.follow_redirects = own_client or http.follow_redirects
    fetch.max_redirects = MAX_REDIRECTS if own_client else http.max_redirects
    try:
        return fetch.run()
    except FetchError as error:
        raise error._finish(fetch.attempts, None, token) from None
    finally:
        if own_client:
            http.close()


def _make_client(settings: FetchSettings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        # Redirects are followed by _Fetch, each hop checked before it is requested.
        follow_redirects=False,
    )


def _check_token(token: str, source: str) -> None:
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise InvalidRequestError(
            "the API token holds spaces or characters that cannot be sent in an HTTP header"
            f" (check {source})"
        )


class _Fetch:
    """One fetch: the pages so far, the requests made and the time left."""

    def __init__(
        self,
        client: httpx.Client,
        url: httpx.URL,
        token: str | None,
        settings: FetchSettings,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        random: Callable[[], float],
    ) -> None:
        self.client = client
        self.url = url
        self.token = token
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.random = random
        self.deadline = clock() + settings.total_timeout
        self.attempts = 0
        self.last_status = 0
        self.receiver = _Receiver(settings, token, clock=clock, deadline=self.deadline)
        self.follow_redirects = True
        self.max_redirects = MAX_REDIRECTS

    def run(self) -> FetchResult:
        first, where = self.get(self.url, page=1)
        pages = [first]
        document = _paginated(first)
        if document is not None:
            # Page 1 spoke of pagination: follow it until the last page says it is the last.
            seen = {str(self.url), str(where)}
            size = received = len(document["data"])
            while (
                following := _next_page(
                    document,
                    where,
                    received,
                    size,
                    start=self.url,
                    status=self.last_status,
                    settings=self.settings,
                    show=self.show,
                )
            ) is not None:
                number = len(pages) + 1
                if number > self.settings.max_pages:
                    raise BadContentError(
                        f"GET {self.show(self.url)} has more than {self.settings.max_pages}"
                        " pages (max_pages); stopped following them",
                        http_status=self.last_status,
                    )
                if str(following) in seen:
                    raise BadContentError(
                        f"page {number} of {self.show(self.url)} would be"
                        f" {self.show(following)} again: the pagination loops",
                        http_status=self.last_status,
                    )
                seen.add(str(following))
                body, where = self.get(following, page=number)
                document = _parse_page(body, number, self.show(following), self.last_status)
                received += len(document["data"])
                pages.append(body)
        raw = _join_pages(pages)
        return FetchResult(raw, self.last_status, self.attempts, len(pages), self.show(self.url))

    def get(self, url: httpx.URL, *, page: int) -> tuple[bytes, httpx.URL]:
        """One page, retried as the settings allow. Returns its bytes and final URL."""
        tries = 0
        while True:
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raise TransportError(
                    f"GET {self.show(url)} not started: the total timeout of"
                    f" {self.settings.total_timeout:g} s has passed",
                )
            tries += 1
            self.attempts += 1
            try:
                return self.attempt(url, remaining)
            except FetchError as error:
                if not error.retryable:
                    raise error._finish(
                        self.attempts, self.tally(tries, page) if tries > 1 else None, self.token
                    ) from None
                if tries > self.settings.retries:
                    raise error._finish(
                        self.attempts, f"gave up after {self.tally(tries, page)}", self.token
                    ) from None
                delay = _backoff(tries, error, self.settings, self.random)
                if self.clock() + delay >= self.deadline:
                    raise error._finish(
                        self.attempts,
                        f"gave up after {self.tally(tries, page)}: waiting {delay:.1f} s more"
                        f" would pass the total timeout of {self.settings.total_timeout:g} s",
                        self.token,
                    ) from None
                logger.warning(
                    "%s (attempt %d of %d); retrying in %.1f s",
                    _scrub(str(error), self.token),
                    tries,
                    self.settings.retries + 1,
                    delay,
                )
                self.sleep(delay)

    def tally(self, tries: int, page: int) -> str:
        text = f"{tries} attempt{'s' if tries != 1 else ''}"
        if page > 1:
            text += f" at page {page}, {self.attempts} requests in all"
        return text

    def attempt(self, url: httpx.URL, remaining: float) -> tuple[bytes, httpx.URL]:
        shown = self.show(url)
        settings = self.settings
        timeout = httpx.Timeout(
            connect=min(settings.connect_timeout, remaining),
            read=min(settings.read_timeout, remaining),
            write=min(settings.read_timeout, remaining),
            pool=min(settings.connect_timeout, remaining),
        )
        status: int | None = None
        target = url
        try:
            for _ in range(self.max_redirects + 1):
                with self.client.stream(
                    "GET",
                    target,
                    headers=self.headers(target),
                    timeout=timeout,
                    follow_redirects=False,
                ) as response:
                    status = self.last_status = response.status_code
                    location = response.headers.get("location")
                    if status not in _REDIRECTS or not location or not self.follow_redirects:
                        return self.receiver.receive(response, shown), target
                target = self.redirect_target(target, location, shown, status)
            raise UpstreamHTTPError(
                f"GET {shown} redirected more than {self.max_redirects} times", http_status=status
            )
        except httpx.TimeoutException as error:
            raise TransportError(
                f"GET {shown} {_timed_out(error, timeout)}", http_status=status
            ) from None
        except httpx.UnsupportedProtocol:
            raise InvalidRequestError(
                f"GET {shown} led to a URL with an unsupported scheme (a redirect?)",
                http_status=status,
            ) from None
        except httpx.RemoteProtocolError as error:
            raise TransportError(
                f"GET {shown}: the connection was cut short: {_cause(error)}", http_status=status
            ) from None
        except httpx.LocalProtocolError:
            raise TransportError(
                f"GET {shown}: the request could not be sent (invalid header?)",
                retryable=False,
            ) from None
        except httpx.ConnectError as error:
            raise TransportError(f"GET {shown}: cannot connect: {_cause(error)}") from None
        except httpx.TransportError as error:
            raise TransportError(
                f"GET {shown}: the connection failed: {_cause(error)}", http_status=status
            ) from None
        except httpx.DecodingError as error:
            raise BadContentError(
                f"GET {shown} answered {status} with a body that cannot be decoded"
                f" (Content-Encoding): {_cause(error)}",
                http_status=status,
            ) from None

    def redirect_target(self, url: httpx.URL, location: str, shown: str, status: int) -> httpx.URL:
        """Where a redirect points, checked before it is requested: an http(s) URL with a
        host, and no plain http:// off loopback (unless allowed). The token follows only
        to the catalog's own origin (:meth:`headers`)."""
        try:
            target = url.join(location.strip())
        except httpx.InvalidURL as error:
            raise InvalidRequestError(
                f"GET {shown} answered {status} with a redirect to an invalid URL: {error}",
                http_status=status,
            ) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise InvalidRequestError(
                f"GET {shown} answered {status} with a redirect to {self.show(target)}, not"
                " an http(s) URL: not followed",
                http_status=status,
            )
        _check_secure(target, shown, self.settings, "redirect target")
        return target

    def headers(self, url: httpx.URL) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": USER_AGENT,
        }
        # The token is for the catalog's own origin, not for wherever a next link points.
        if self.token is not None and _origin(url) == _origin(self.url):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def show(self, url: httpx.URL | str) -> str:
        return _scrub(safe_url(str(url)), self.token)
