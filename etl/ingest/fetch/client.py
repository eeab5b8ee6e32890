"""Fetch a catalog over HTTP: the exact bytes of every page, bounded retries, no leaked token.

The upstream is a gateway that may be restarting, rate limiting or half-configured, so
transient failures are retried with exponential backoff and full jitter, within a total
time budget that keeps a scheduled sync under about two minutes. Failures that retrying
cannot fix (a bad token, a missing route, an HTML login page) fail at once. Nothing is
parsed except to follow pagination: the pipeline parses, and archives the exact bytes.

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

Retry-After (seconds or an HTTP date, capped) is honoured on every retried status, not only
429: gateways send it with 503 too. Other 5xx are retried like 500, except 501, 505 and 511,
which describe the request or the network rather than a passing fault.

Every error carries ``retryable``, ``http_status`` (``None`` when no answer came) and
``attempts`` (HTTP requests made when it was raised), and its message is one line that
names the URL as :func:`safe_url` prints it. The token never appears in a message, a
``repr``, a log line or a :class:`FetchResult`.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import httpx

from etl.errors import SyncError
from etl.ingest.shapes import PAGES_KEY
from etl.version import package_version

logger = logging.getLogger("etl.fetch")


class _MaskURLs(logging.Filter):
    """httpx logs every request's full URL at INFO; mask secrets in it as :func:`safe_url`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                safe_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_MaskURLs())

USER_AGENT = f"catalog-etl/{package_version()}"
TOKEN_SETTING = "CATALOG_ETL_API_TOKEN"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 5xx answers that describe the request itself, so repeating it cannot help.
TERMINAL_5XX = frozenset({501, 505, 511})
ERROR_BODY_LIMIT = 64 * 1024
"""How much of an error answer is read to find the upstream's explanation."""
UPSTREAM_TEXT_LIMIT = 200

_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\r\n"
_SECRET_PARAM = re.compile("token|key|secret|password|auth|sig", re.IGNORECASE)
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_.:-]*")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


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


@dataclass(frozen=True)
class FetchSettings:
    """How patient and how trusting a fetch is. The defaults keep a sync under ~2 minutes."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    """Longest wait for any chunk of the answer (and for sending the request)."""
    total_timeout: float = 110.0
    """The whole fetch: every page, retry and backoff sleep."""
    retries: int = 4
    """Extra attempts per page after the first."""
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    retry_after_cap: float = 60.0
    max_bytes: int = 64 * 1024 * 1024
    """Largest catalog accepted, all pages together, after content decoding."""
    allow_insecure_http: bool = False
    max_pages: int = 1000

    def __post_init__(self) -> None:
        positive = ("connect_timeout", "read_timeout", "total_timeout", "max_bytes", "max_pages")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchSettings.{name} must be positive")
        for name in ("retries", "backoff_base", "backoff_max", "retry_after_cap"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"FetchSettings.{name} must not be negative")


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


def safe_url(url: str) -> str:
    """The URL safe to print and store: no userinfo, no fragment, and the values of query
    parameters whose name suggests a secret (token, key, secret, password, auth, sig)
    replaced by ``***``."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "<malformed URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(_mask_param(param) for param in parts.query.split("&"))
    shown = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return _UNPRINTABLE.sub(lambda match: _percent(match.group()), shown)


def fetch_catalog(
    url: str,
    *,
    token: str | None = None,
    settings: FetchSettings = FetchSettings(),  # frozen, so one shared default is safe
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
        _check_token(token)
    own_client = client is None
    http = client if client is not None else _make_client(settings)
    fetch = _Fetch(http, target, token, settings, sleep=sleep, clock=clock, random=random)
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
        # httpx drops Authorization when a redirect leaves the origin (unless it is the
        # same host moving from http to https).
        follow_redirects=True,
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
        self.received_bytes = 0

    def run(self) -> FetchResult:
        first, where = self.get(self.url, page=1)
        pages = [first]
        document = _paginated(first)
        if document is not None:
            # Page 1 spoke of pagination: follow it until the last page says it is the last.
            seen = {str(self.url), str(where)}
            size = received = len(document["data"])
            while (following := self.next_page(document, where, received, size)) is not None:
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
                document = self.parse_page(body, number, following)
                received += len(document["data"])
                pages.append(body)
        if len(pages) == 1:
            raw = first
        else:
            # Exact page bytes (less any BOM, which would break the splice) in one document.
            joined = b",".join(page.removeprefix(_BOM) for page in pages)
            raw = f'{{"{PAGES_KEY}":['.encode() + joined + b"]}"
        return FetchResult(raw, self.last_status, self.attempts, len(pages), self.show(self.url))

    def next_page(
        self, document: dict[str, Any], where: httpx.URL, received: int, size: int
    ) -> httpx.URL | None:
        links = document.get("links")
        link = links.get("next") if isinstance(links, dict) else None
        if isinstance(link, str) and link.strip():
            try:
                following = where.join(link.strip())
            except httpx.InvalidURL as error:
                raise BadContentError(
                    f"GET {self.show(where)} gave a next-page link that is not a URL: {error}",
                    http_status=self.last_status,
                ) from None
            if following.scheme not in ("http", "https") or not following.host:
                raise BadContentError(
                    f"GET {self.show(where)} gave a next-page link that is not an http(s) URL:"
                    f" {self.show(following)}",
                    http_status=self.last_status,
                )
            _check_secure(following, self.show(self.url), self.settings, "next-page link")
            return following
        if link is not None and not isinstance(link, str):
            raise BadContentError(
                f"GET {self.show(where)} gave links.next that is not a URL:"
                f" {_one_line(repr(link), 60)}",
                http_status=self.last_status,
            )
        total = document.get("total_count")
        if isinstance(total, int) and not isinstance(total, bool) and total > received:
            if len(document["data"]) == 0:
                raise BadContentError(
                    f"GET {self.show(where)} returned no models although total_count says"
                    f" {total} and {received} arrived",
                    http_status=self.last_status,
                )
            return self.url.copy_set_param("offset", str(received)).copy_set_param(
                "limit", str(size)
            )
        return None

    def parse_page(self, body: bytes, number: int, url: httpx.URL) -> dict[str, Any]:
        try:
            document = json.loads(body, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise BadContentError(
                f"page {number} ({self.show(url)}) is not valid JSON: {error.msg} at line"
                f" {error.lineno} column {error.colno}",
                http_status=self.last_status,
            ) from None
        except (ValueError, RecursionError):
            raise BadContentError(
                f"page {number} ({self.show(url)}) is not readable JSON",
                http_status=self.last_status,
            ) from None
        if not isinstance(document, dict) or not isinstance(document.get("data"), list):
            raise BadContentError(
                f"page {number} ({self.show(url)}) has no data list",
                http_status=self.last_status,
            )
        return document

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
                delay = self.delay(tries, error)
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

    def delay(self, tries: int, error: FetchError) -> float:
        retry_after = error.retry_after if isinstance(error, UpstreamHTTPError) else None
        if retry_after is not None:
            return min(retry_after, self.settings.retry_after_cap)
        ceiling = self.settings.backoff_base * 2.0 ** min(tries - 1, 60)
        return self.random() * min(self.settings.backoff_max, ceiling)

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
        try:
            with self.client.stream(
                "GET", url, headers=self.headers(url), timeout=timeout
            ) as response:
                status = self.last_status = response.status_code
                return self.receive(response, shown), response.url
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
        except httpx.TooManyRedirects:
            raise UpstreamHTTPError(
                f"GET {shown} redirected more than {self.client.max_redirects} times",
                http_status=status,
            ) from None

    def headers(self, url: httpx.URL) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        # The token is for the catalog's own origin, not for wherever a next link points.
        if self.token is not None and _origin(url) == _origin(self.url):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def receive(self, response: httpx.Response, shown: str) -> bytes:
        status = response.status_code
        _check_secure(response.url, shown, self.settings, "redirect target")
        if not 200 <= status < 300:
            raise self.status_error(response, shown)
        budget = self.settings.max_bytes - self.received_bytes
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        length = _content_length(response)
        if length is not None and length > budget:
            raise BadContentError(
                f"GET {shown} answered {status} with Content-Length {length}, over the"
                f" {self.limit_text()}",
                http_status=status,
            )
        if media and not _is_json_type(media):
            found = _upstream_text(self.peek(response, 4096), media)
            raise BadContentError(
                f"GET {shown} answered {status} with Content-Type {media}, not JSON"
                + (f": {found}" if found else ""),
                http_status=status,
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > budget:
                raise BadContentError(
                    f"GET {shown} answered {status} with a body over the {self.limit_text()};"
                    " stopped reading",
                    http_status=status,
                )
            chunks.append(chunk)
            self.check_deadline(shown, status)
        body = b"".join(chunks)
        if length is not None and (received := _bytes_on_the_wire(response, body)) < length:
            raise TransportError(
                f"GET {shown}: the connection ended after {received} of"
                f" the {length} bytes announced by Content-Length",
                http_status=status,
            )
        _check_json_outline(body, shown, status, media)
        self.received_bytes += len(body)
        return body

    def status_error(self, response: httpx.Response, shown: str) -> UpstreamHTTPError:
        status = response.status_code
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        code, message = _upstream_error(self.peek(response, ERROR_BODY_LIMIT), media)
        head = code or httpx.codes.get_reason_phrase(status) or response.reason_phrase
        if message and message.casefold() in (head.casefold(), f"{status} {head}".casefold()):
            message = None  # An HTML title such as "502 Bad Gateway" says nothing new.
        text = f"{head}: {message}" if head and message else head or message or ""
        detail = f"{status} {_one_line(text, UPSTREAM_TEXT_LIMIT)}".rstrip()
        retryable = status in RETRY_STATUSES or (500 <= status < 600 and status not in TERMINAL_5XX)
        return UpstreamHTTPError(
            f"GET {shown} answered {detail}{self.hint(response)}",
            retryable=retryable,
            http_status=status,
            retry_after=_retry_after(response.headers) if retryable else None,
        )

    def hint(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403) and self.token is None:
            return f" (no token was sent: set {TOKEN_SETTING})"
        if status == 401:
            return f" (check {TOKEN_SETTING})"
        if status == 403:
            return f" (the token lacks access: check {TOKEN_SETTING})"
        if status in (404, 410):
            return " (check the URL)"
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            try:
                target = self.show(response.url.join(location)) if location else "nowhere"
            except httpx.InvalidURL:
                target = "an invalid URL"
            return f" (redirect to {target} not followed)"
        return ""

    def peek(self, response: httpx.Response, limit: int) -> bytes:
        """Up to ``limit`` bytes of an answer that is being rejected, for its explanation."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk[: limit - size])
                size += len(chunk)
                if size >= limit or self.clock() > self.deadline:
                    break
        except (httpx.HTTPError, httpx.StreamError):
            pass
        return b"".join(chunks)

    def check_deadline(self, shown: str, status: int) -> None:
        if self.clock() > self.deadline:
            raise TransportError(
                f"GET {shown}: the answer did not finish within the total timeout of"
                f" {self.settings.total_timeout:g} s",
                http_status=status,
            )

    def limit_text(self) -> str:
        limit = f"max_bytes limit of {self.settings.max_bytes} bytes"
        return limit + (" for all pages together" if self.received_bytes else "")

    def show(self, url: httpx.URL | str) -> str:
        return _scrub(safe_url(str(url)), self.token)


def _parse_url(url: str, shown: str, settings: FetchSettings) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as error:
        raise InvalidRequestError(f"{shown} is not a valid URL: {_cause(error)}") from None
    if parsed.scheme not in ("http", "https"):
        found = f"scheme {parsed.scheme}:" if parsed.scheme else "no scheme"
        raise InvalidRequestError(f"cannot fetch {shown}: {found}; expected an https:// URL")
    if not parsed.host:
        raise InvalidRequestError(f"cannot fetch {shown}: the URL names no host")
    if port is not None and not 0 < port < 65536:
        raise InvalidRequestError(f"cannot fetch {shown}: port {port} is out of range")
    _check_secure(parsed, shown, settings, "URL")
    return parsed


def _check_secure(url: httpx.URL, shown: str, settings: FetchSettings, what: str) -> None:
    if url.scheme == "http" and not settings.allow_insecure_http and not _is_loopback(url.host):
        target = "" if what == "URL" else f" ({what} {safe_url(str(url))})"
        raise InsecureURLError(
            f"refusing plain http:// for {shown}{target}: the token and the catalog would"
            " cross the network unencrypted; use https:// (or allow_insecure_http on a"
            " trusted network)"
        )


def _check_token(token: str) -> None:
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise InvalidRequestError(
            "the API token holds spaces or characters that cannot be sent in an HTTP header"
            f" (check {TOKEN_SETTING})"
        )


def _check_json_outline(body: bytes, shown: str, status: int, media: str) -> None:
    # Cheap checks only: the pipeline parses the body later.
    text = body.removeprefix(_BOM).strip(_JSON_WHITESPACE)
    if not text:
        raise BadContentError(
            f"GET {shown} answered {status} with an empty body", http_status=status
        )
    if text[:1] not in (b"{", b"["):
        start = _one_line(text[:40].decode("utf-8", "replace"), 40)
        if not media:
            raise BadContentError(
                f"GET {shown} answered {status} with no Content-Type and a body that is not"
                f" JSON (it starts with {start!r})",
                http_status=status,
            )
        raise BadContentError(
            f"GET {shown} answered {status} with a body that is not a JSON object or array"
            f" (it starts with {start!r})",
            http_status=status,
        )
    if text[-1:] not in (b"}", b"]"):
        end = _one_line(text[-40:].decode("utf-8", "replace"), 40)
        raise BadContentError(
            f"GET {shown} answered {status} with truncated JSON: {len(body)} bytes ending"
            f" in {end!r}",
            http_status=status,
        )


def _paginated(body: bytes) -> dict[str, Any] | None:
    """Page 1 parsed, if it is one page of an OpenRouter-style paginated list."""
    if b'"links"' not in body and b'"total_count"' not in body:
        return None
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None  # Not JSON after all: the pipeline reports it, with the bytes archived.
    if (
        isinstance(document, dict)
        and isinstance(document.get("data"), list)
        and ("links" in document or "total_count" in document)
    ):
        return document
    return None


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _is_json_type(media: str) -> bool:
    return media in ("application/json", "text/json") or (
        media.startswith("application/") and media.endswith("+json")
    )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _bytes_on_the_wire(response: httpx.Response, body: bytes) -> int:
    """The body's size as counted by Content-Length (before any content decoding)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return len(body)
    # An answer built in memory (a test transport) was never streamed, so counts 0.
    return response.num_bytes_downloaded or len(body)


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


def _upstream_error(body: bytes, media: str) -> tuple[str | None, str | None]:
    """The error code and message an upstream put in its error answer, if any.

    Understands InSforge's ``{"error": "CODE", "message": ...}`` and older
    ``{"error": "text", "details": ...}``, OpenRouter's ``{"error": {"code", "message"}}``,
    ``{"message"}`` / ``{"detail"}`` bodies, HTML titles and plain text."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict):
            return _json_error(document)
    found = _upstream_text(body, media)
    return None, found


def _json_error(document: dict[str, Any]) -> tuple[str | None, str | None]:
    error = document.get("error")
    code: str | None = None
    message: str | None = None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = _string(error.get("message"))
    elif isinstance(error, str) and error.strip():
        if _ERROR_CODE.fullmatch(error.strip()):
            code = error.strip()
        else:
            message = error.strip()
    keys = ("message", "details", "detail", "title", "error_description")
    extra = next((text for key in keys if (text := _string(document.get(key)))), None)
    if message and extra and extra != message:
        message = f"{message}: {extra}"
    return code, message or extra


def _upstream_text(body: bytes, media: str) -> str | None:
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    if "html" in media or text[:15].lower().startswith(("<!doctype", "<html")):
        title = _HTML_TITLE.search(text)
        return _one_line(html.unescape(title.group(1)), UPSTREAM_TEXT_LIMIT) if title else None
    return _one_line(text, UPSTREAM_TEXT_LIMIT) or None


def _string(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _one_line(text: str, limit: int) -> str:
    """Text reduced to one printable line of at most ``limit`` characters."""
    flat = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _cause(error: Exception) -> str:
    return _one_line(str(error), UPSTREAM_TEXT_LIMIT) or type(error).__name__


def _timed_out(error: httpx.TimeoutException, timeout: httpx.Timeout) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return f"timed out connecting (after {timeout.connect:g} s)"
    if isinstance(error, httpx.ReadTimeout):
        return f"timed out waiting for the answer (nothing for {timeout.read:g} s)"
    if isinstance(error, httpx.WriteTimeout):
        return f"timed out sending the request (after {timeout.write:g} s)"
    if isinstance(error, httpx.PoolTimeout):
        return f"timed out waiting for a free connection (after {timeout.pool:g} s)"
    return "timed out"


def _mask_param(param: str) -> str:
    name, separator, _ = param.partition("=")
    if separator and _SECRET_PARAM.search(unquote_plus(name)):
        return f"{name}=***"
    return param


def _percent(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8"))


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
