"""The body of an answer: read within the byte cap and the time left and checked to look
like JSON, or, for a status other than 2xx, read for the upstream's explanation."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import cast

import httpx
import zstandard

from etl.ingest.decompress import TooLarge, UnsupportedEncoding, decoding_reader, read_limited
from etl.ingest.fetch.errors import BadContentError, TransportError, UpstreamHTTPError
from etl.ingest.fetch.messages import (
    UPSTREAM_TEXT_LIMIT,
    _cause,
    _one_line,
    _scrub,
    _upstream_error,
    _upstream_text,
)
from etl.ingest.fetch.retry import _retry_after, _retryable
from etl.ingest.fetch.settings import FetchSettings
from etl.ingest.fetch.urls import _check_secure, safe_url

ERROR_BODY_LIMIT = 64 * 1024
"""How much of an error answer is read to find the upstream's explanation."""

_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\r\n"


class _Receiver:
    """Reads the answers of one fetch: the bytes received so far, against max_bytes, and the
    deadline every answer must finish by."""

    def __init__(
        self,
        settings: FetchSettings,
        token: str | None,
        *,
        clock: Callable[[], float],
        deadline: float,
    ) -> None:
        self.settings = settings
        self.token = token
        self.clock = clock
        self.deadline = deadline
        self.received_bytes = 0

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
        wire = _Wire(response, lambda: self.check_deadline(shown, status))
        body = self.decode(response, wire, budget, shown)
        if length is not None and wire.size < length:
            raise TransportError(
                f"GET {shown}: the connection ended after {wire.size} of"
                f" the {length} bytes announced by Content-Length",
                http_status=status,
            )
        _check_json_outline(body, shown, status, media)
        self.received_bytes += len(body)
        return body

    def decode(self, response: httpx.Response, wire: _Wire, budget: int, shown: str) -> bytes:
        """The body, content encoding undone by a decoder that stops at ``budget`` bytes of
        output (a few kilobytes of gzip can stand for gigabytes)."""
        status = response.status_code
        encoding = response.headers.get("content-encoding", "")
        try:
            return read_limited(decoding_reader(wire, encoding), budget)
        except TooLarge:
            raise BadContentError(
                f"GET {shown} answered {status} with a body over the {self.limit_text()}"
                + (" once decoded" if encoding.strip() else "")
                + "; stopped reading",
                http_status=status,
            ) from None
        except UnsupportedEncoding as error:
            raise BadContentError(
                f"GET {shown} answered {status} with {error} (not offered)", http_status=status
            ) from None
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as error:
            raise BadContentError(
                f"GET {shown} answered {status} with a body that cannot be decoded"
                f" (Content-Encoding {encoding.strip()}): {_cause(error)}",
                http_status=status,
            ) from None

    def status_error(self, response: httpx.Response, shown: str) -> UpstreamHTTPError:
        status = response.status_code
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        code, message = _upstream_error(self.peek(response, ERROR_BODY_LIMIT), media)
        head = code or httpx.codes.get_reason_phrase(status) or response.reason_phrase
        if message and message.casefold() in (head.casefold(), f"{status} {head}".casefold()):
            message = None  # An HTML title such as "502 Bad Gateway" says nothing new.
        text = f"{head}: {message}" if head and message else head or message or ""
        detail = f"{status} {_one_line(text, UPSTREAM_TEXT_LIMIT)}".rstrip()
        retryable = _retryable(status)
        return UpstreamHTTPError(
            f"GET {shown} answered {detail}{self.hint(response)}",
            retryable=retryable,
            http_status=status,
            retry_after=_retry_after(response.headers) if retryable else None,
        )

    def hint(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403) and "authorization" not in response.request.headers:
            if self.token is not None:  # a page on another origin never gets the token
                return " (the token is sent only to the catalog's own origin)"
            return f" (no token was sent: set {self.settings.token_source})"
        if status == 401:
            return f" (check {self.settings.token_source})"
        if status == 403:
            return f" (the token lacks access: check {self.settings.token_source})"
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
        encoding = response.headers.get("content-encoding", "")
        try:
            reader = decoding_reader(_Wire(response, self.past_deadline), encoding)
            return reader.read(limit)
        except (httpx.HTTPError, httpx.StreamError, _Late, ValueError, OSError, EOFError):
            return b""
        except (zlib.error, zstandard.ZstdError):
            return b""

    def past_deadline(self) -> None:
        if self.clock() > self.deadline:
            raise _Late

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


def _is_json_type(media: str) -> bool:
    return media in ("application/json", "text/json") or (
        media.startswith("application/") and media.endswith("+json")
    )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    # isascii: str.isdigit also accepts digits such as "²" that int() refuses.
    return int(value) if value.isascii() and value.isdigit() else None


class _Late(Exception):
    """Reading an explanation ran into the deadline."""


class _Wire:
    """The raw bytes of an answer as they arrive (before any content decoding), counted,
    with ``check`` called after each chunk (the deadline)."""

    def __init__(self, response: httpx.Response, check: Callable[[], None]) -> None:
        self.response = response
        self.check = check
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        response = self.response
        # An answer built in memory (a test transport) was read when it was made; its
        # stream still holds the bytes as sent.
        raw = response.stream if response.is_stream_consumed else response.iter_raw()
        for chunk in cast("Iterable[bytes]", raw):
            self.size += len(chunk)
            yield chunk
            self.check()
