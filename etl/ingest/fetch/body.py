"""The body of an answer: read within the byte cap and the time left and checked to look
like JSON, or, for a status other than 2xx, read for the upstream's explanation."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from etl.ingest.fetch.errors import BadContentError, TransportError, UpstreamHTTPError
from etl.ingest.fetch.messages import (
    UPSTREAM_TEXT_LIMIT,
    _one_line,
    _scrub,
    _upstream_error,
    _upstream_text,
)
from etl.ingest.fetch.retry import _retry_after, _retryable
from etl.ingest.fetch.settings import TOKEN_SETTING, FetchSettings
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
        retryable = _retryable(status)
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
    return int(value) if value.isdigit() else None


def _bytes_on_the_wire(response: httpx.Response, body: bytes) -> int:
    """The body's size as counted by Content-Length (before any content decoding)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return len(body)
    # An answer built in memory (a test transport) was never streamed, so counts 0.
    return response.num_bytes_downloaded or len(body)
