"""The fetch stage: exact bytes, bounded retries, pagination, and a token that never leaks.

End-to-end faults run against a real HTTP server on loopback (pytest-httpserver, or a raw
socket server for broken answers); fine-grained cases use ``httpx.MockTransport``. No test
really sleeps for a retry: ``sleep`` and ``clock`` are fakes.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import etl.ingest.fetch.client
from etl import __version__
from etl.errors import SyncError
from etl.ingest.fetch import (
    BadContentError,
    FetchError,
    FetchResult,
    FetchSettings,
    InsecureURLError,
    InvalidRequestError,
    TransportError,
    UpstreamHTTPError,
    fetch_catalog,
    safe_url,
)
from etl.ingest.shapes import detect
from tests.helpers import read_bytes

CATALOG = read_bytes("openrouter/2025-11-19_teatreechat.json.gz")
JSON = {"content-type": "application/json"}
URL = "https://gateway.example/api/ai/models"
MARKER = "tok-MARKER-7f3a9c0d2e"
INSFORGE_401 = {
    "error": "AUTH_INVALID_CREDENTIALS",
    "message": "No admin token provided",
    "statusCode": 401,
    "nextActions": "Provide an admin token",
}


class FakeTime:
    """A clock that only moves when slept on (or when a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A MockTransport handler that answers with the given responses in order and keeps
    every request. The last response repeats once the script runs out."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self), **options)


class CountingStream(httpx.SyncByteStream):
    """A response body of ``chunks`` chunks that counts how many were consumed."""

    def __init__(self, chunks: int, size: int = 1024) -> None:
        self.chunks, self.size, self.consumed = chunks, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for index in range(self.chunks):
            self.consumed += 1
            yield (b"[" if index == 0 else b" ") * self.size


def ok(body: bytes = b'{"data":[]}', headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=JSON if headers is None else headers, content=body)


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(code, headers=headers)
    if isinstance(body, bytes):
        return httpx.Response(code, headers=headers, content=body)
    return httpx.Response(code, headers=headers, json=body)


def run(
    script: Script,
    url: str = URL,
    *,
    time_: FakeTime | None = None,
    client_options: dict[str, Any] | None = None,
    **options: Any,
) -> FetchResult:
    """fetch_catalog through a MockTransport, with fake time and no jitter surprises."""
    time_ = time_ or FakeTime()
    options.setdefault("random", lambda: 0.5)
    with script.client(**(client_options or {})) as client:
        return fetch_catalog(url, client=client, sleep=time_.sleep, clock=time_.clock, **options)


def fails(script: Script, url: str = URL, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        run(script, url, **options)
    return caught.value


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def raw_server(*answers: bytes) -> Iterator[str]:
    """A loopback server that sends each answer's bytes verbatim on its own connection, then
    closes it: for answers no well-behaved server library would send."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(5)

    def serve() -> None:
        for answer in answers:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/models"
    finally:
        listener.close()
        thread.join(timeout=5)


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    """A second loopback server: another origin than the ``httpserver`` fixture."""
    server = HTTPServer(host="127.0.0.1")
    server.start()
    yield server
    server.clear()
    server.stop()


def real_fetch(url: str, **options: Any) -> FetchResult:
    """fetch_catalog with its own client against a real server, without real backoff."""
    options.setdefault("sleep", lambda seconds: None)
    return fetch_catalog(url, **options)


class TestSuccess:
    def test_real_catalog_arrives_byte_for_byte(self, httpserver: HTTPServer) -> None:
        """A 200 with a real catalog returns its exact bytes, the status and one attempt."""
        httpserver.expect_request("/api/v1/models").respond_with_data(
            CATALOG, content_type="application/json"
        )
        url = httpserver.url_for("/api/v1/models")
        result = real_fetch(url)
        assert result.raw == CATALOG
        assert (result.http_status, result.attempts, result.pages) == (200, 1, 1)
        assert result.url == url

    def test_result_repr_leaves_out_the_body(self) -> None:
        """The result's repr does not dump the (possibly 64 MiB) body."""
        result = run(Script(ok(CATALOG)))
        assert "raw" not in repr(result)
        assert len(repr(result)) < 300

    @pytest.mark.parametrize(
        "content_type",
        ["application/json; charset=utf-8", "application/vnd.api+json", "text/json", None],
    )
    def test_json_content_types_are_accepted(self, content_type: str | None) -> None:
        """JSON, application/*+json, text/json, and no type at all for a body starting with {."""
        headers = {"content-type": content_type} if content_type else {}
        assert run(Script(ok(b' {"data":[]}\n', headers))).raw == b' {"data":[]}\n'

    def test_bom_and_whitespace_are_kept(self) -> None:
        """A single page is returned unchanged, byte order mark and whitespace included."""
        body = b'\xef\xbb\xbf\n  {"data": []}  \n'
        assert run(Script(ok(body))).raw == body


class TestRequest:
    def test_bearer_token_is_sent_when_given(self, httpserver: HTTPServer) -> None:
        """With a token, the request carries Authorization: Bearer <token>."""
        httpserver.expect_request(
            "/models", headers={"Authorization": f"Bearer {MARKER}"}
        ).respond_with_json({"data": []})
        result = real_fetch(httpserver.url_for("/models"), token=MARKER)
        assert result.http_status == 200

    def test_no_authorization_without_token(self) -> None:
        """Without a token (or with an empty one) no Authorization header is sent."""
        script = Script(ok())
        run(script)
        run(script, token="")
        assert all("authorization" not in request.headers for request in script.requests)

    def test_user_agent_and_accept(self) -> None:
        """Requests name catalog-etl and its version, and ask for JSON."""
        script = Script(ok())
        run(script)
        headers = script.requests[0].headers
        assert headers["user-agent"] == f"catalog-etl/{__version__}"
        assert headers["accept"] == "application/json"

    def test_timeouts_come_from_the_settings(self) -> None:
        """Each request gets the configured connect and read timeouts."""
        script = Script(ok())
        run(script, settings=FetchSettings(connect_timeout=3, read_timeout=7))
        timeout = script.requests[0].extensions["timeout"]
        assert (timeout["connect"], timeout["read"], timeout["pool"]) == (3, 7, 3)

    def test_request_timeouts_never_outlast_the_total(self) -> None:
        """A request late in the budget gets only the time left as its timeouts."""
        time_ = FakeTime()

        def late(request: httpx.Request) -> httpx.Response:
            time_.now += 105  # the first attempt used most of the 110 s
            return status(503)

        script = Script(late, ok())
        run(script, time_=time_, random=lambda: 0.0)
        timeout = script.requests[1].extensions["timeout"]
        assert timeout["read"] == pytest.approx(5)
        assert timeout["connect"] == pytest.approx(5)

    def test_own_client_is_closed_and_given_client_is_not(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A client fetch_catalog creates is closed at the end; a caller's is left open."""
        made: list[httpx.Client] = []

        def make(settings: FetchSettings) -> httpx.Client:
            made.append(Script(ok()).client())
            return made[-1]

        monkeypatch.setattr(etl.ingest.fetch.client, "_make_client", make)
        fetch_catalog(URL)
        assert made[0].is_closed
        with Script(ok()).client() as given_client:
            fetch_catalog(URL, client=given_client)
            assert not given_client.is_closed

    def test_created_client_uses_the_settings(self) -> None:
        """The client made when none is given has the configured timeouts, and leaves
        redirects to the fetch, which checks each hop before requesting it."""
        client = etl.ingest.fetch.client._make_client(
            FetchSettings(connect_timeout=2, read_timeout=9)
        )
        with client:
            assert not client.follow_redirects
            assert (client.timeout.connect, client.timeout.read, client.timeout.pool) == (2, 9, 2)


class TestTerminalStatus:
    def test_401_fails_at_once_with_the_upstream_reason(self, httpserver: HTTPServer) -> None:
        """A 401 is not retried, and its message names the URL and InsForge's code and message."""
        httpserver.expect_request("/api/ai/models").respond_with_json(INSFORGE_401, status=401)
        url = httpserver.url_for("/api/ai/models")
        with pytest.raises(UpstreamHTTPError) as caught:
            real_fetch(url, token=MARKER)
        error = caught.value
        assert str(error) == (
            f"GET {url} answered 401 AUTH_INVALID_CREDENTIALS: No admin token provided"
            " (check CATALOG_ETL_API_TOKEN)"
        )
        assert (error.attempts, error.http_status, error.retryable) == (1, 401, False)
        assert len(httpserver.log) == 1

    def test_401_without_token_says_none_was_sent(self) -> None:
        """A 401 when no token was given says to set one."""
        error = fails(Script(status(401, INSFORGE_401)))
        assert str(error).endswith("(no token was sent: set CATALOG_ETL_API_TOKEN)")

    def test_403_names_insforge_code(self) -> None:
        """A 403 fails at once with InsForge's AUTH_UNAUTHORIZED and its message."""
        body = {"error": "AUTH_UNAUTHORIZED", "message": "Admin access required"}
        error = fails(Script(status(403, body)), token=MARKER)
        assert "answered 403 AUTH_UNAUTHORIZED: Admin access required" in str(error)
        assert (error.attempts, error.retryable) == (1, False)

    def test_404_fails_at_once(self, httpserver: HTTPServer) -> None:
        """A 404 fails at once and suggests checking the URL."""
        httpserver.expect_request("/nope").respond_with_data("Not here", status=404)
        with pytest.raises(UpstreamHTTPError) as caught:
            real_fetch(httpserver.url_for("/nope"))
        assert caught.value.attempts == 1
        assert str(caught.value).endswith(" answered 404 Not Found: Not here (check the URL)")

    @pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 408, 410, 422, 501, 505, 511])
    def test_terminal_statuses_are_not_retried(self, code: int) -> None:
        """Client errors, and 5xx that describe the request itself, fail after one request."""
        script = Script(status(code), ok())
        error = fails(script)
        assert isinstance(error, UpstreamHTTPError)
        assert (error.attempts, error.http_status, error.retryable) == (1, code, False)
        assert len(script.requests) == 1

    def test_openrouter_error_body(self) -> None:
        """OpenRouter's {"error": {"code", "message"}} is shown after the reason phrase."""
        body = {"error": {"code": 401, "message": "No auth credentials found"}}
        error = fails(Script(status(401, body)), token=MARKER)
        assert "answered 401 Unauthorized: No auth credentials found (check" in str(error)

    def test_older_insforge_error_body(self) -> None:
        """InsForge's older {"error": text, "details": ...} shows both parts."""
        body = {"error": "Failed to get models list", "details": "fetch failed"}
        error = fails(Script(status(500, body)), settings=FetchSettings(retries=0))
        assert "answered 500 Internal Server Error: Failed to get models list: fetch failed" in (
            str(error)
        )

    def test_html_error_page_is_summarised_by_its_title(self) -> None:
        """An HTML error page contributes its title, without repeating the status line."""
        page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        error = fails(
            Script(status(502, page, {"content-type": "text/html"})),
            settings=FetchSettings(retries=0),
        )
        assert str(error).startswith(f"GET {URL} answered 502 Bad Gateway (gave up after 1")

    def test_long_upstream_text_is_cut_to_one_line(self) -> None:
        """Upstream text is reduced to one line of about 200 characters."""
        body = {"error": "BAD_THING", "message": "line one\nline two\r\n" + "x" * 1000}
        error = fails(Script(status(400, body)))
        message = str(error)
        assert "\n" not in message and "\r" not in message
        assert "line one line two" in message
        assert len(message) < len(URL) + 260

    def test_redirect_not_followed_by_a_callers_client(self) -> None:
        """A caller's client that does not follow redirects gets a 3xx error naming the target."""
        error = fails(Script(status(301, headers={"location": "/v2/models?key=abc"})))
        assert "answered 301 Moved Permanently" in str(error)
        assert "redirect to https://gateway.example/v2/models?key=*** not followed" in str(error)


class TestRetries:
    def test_503_twice_then_200(self, httpserver: HTTPServer) -> None:
        """Two 503s then a 200 succeed with three attempts."""
        for _ in range(2):
            httpserver.expect_oneshot_request("/models").respond_with_json(
                {"error": "AI_UPSTREAM_UNAVAILABLE"}, status=503
            )
        httpserver.expect_request("/models").respond_with_data(
            CATALOG, content_type="application/json"
        )
        slept: list[float] = []
        result = real_fetch(httpserver.url_for("/models"), sleep=slept.append)
        assert (result.raw == CATALOG, result.attempts, result.http_status) == (True, 3, 200)
        assert len(slept) == 2

    def test_429_retry_after_seconds_is_honoured(self, httpserver: HTTPServer) -> None:
        """A 429 with Retry-After: 7 sleeps exactly 7 s before trying again."""
        httpserver.expect_oneshot_request("/models").respond_with_data(
            "slow down", status=429, headers={"Retry-After": "7"}
        )
        httpserver.expect_request("/models").respond_with_json({"data": []})
        slept: list[float] = []
        result = real_fetch(httpserver.url_for("/models"), sleep=slept.append)
        assert slept == [7.0]
        assert result.attempts == 2

    def test_retry_after_http_date(self) -> None:
        """A Retry-After HTTP date is measured against the answer's Date header."""
        headers = {
            "retry-after": "Wed, 21 Oct 2015 07:28:07 GMT",
            "date": "Wed, 21 Oct 2015 07:28:00 GMT",
        }
        time_ = FakeTime()
        run(Script(status(429, headers=headers), ok()), time_=time_)
        assert time_.sleeps == [7.0]

    def test_retry_after_is_capped(self) -> None:
        """A Retry-After longer than retry_after_cap waits only the cap."""
        time_ = FakeTime()
        script = Script(status(429, headers={"retry-after": "3600"}), ok())
        run(script, time_=time_, settings=FetchSettings(retry_after_cap=60))
        assert time_.sleeps == [60]

    def test_retry_after_on_503_is_honoured(self) -> None:
        """A 503 with Retry-After waits as asked too."""
        time_ = FakeTime()
        run(Script(status(503, headers={"retry-after": "3"}), ok()), time_=time_)
        assert time_.sleeps == [3.0]

    @pytest.mark.parametrize("value", ["soon", "-5", "nan", ""])
    def test_unreadable_retry_after_falls_back_to_backoff(self, value: str) -> None:
        """A Retry-After that is not a delay or a date is ignored in favour of backoff."""
        time_ = FakeTime()
        run(Script(status(429, headers={"retry-after": value}), ok()), time_=time_)
        assert time_.sleeps == [0.25]

    @pytest.mark.parametrize("code", [429, 500, 502, 503, 504, 507, 520])
    def test_retryable_statuses(self, code: int) -> None:
        """429 and 5xx (but 501, 505, 511) are retried."""
        script = Script(status(code), ok())
        assert run(script).attempts == 2

    def test_exponential_backoff_with_full_jitter(self) -> None:
        """Delays are random() times base * 2^n, capped by backoff_max."""
        time_ = FakeTime()
        settings = FetchSettings(retries=5, backoff_base=0.5, backoff_max=3)
        run(Script(*[status(503)] * 5, ok()), time_=time_, settings=settings)
        assert time_.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5]

    def test_jitter_comes_from_random(self) -> None:
        """Each delay scales with the injected random() value."""
        time_ = FakeTime()
        values = iter([0.0, 1.0])
        run(Script(status(500), status(500), ok()), time_=time_, random=lambda: next(values))
        assert time_.sleeps == [0.0, 1.0]

    def test_retries_exhausted(self) -> None:
        """When every attempt fails the error is retryable, with attempts = retries + 1."""
        script = Script(status(503, {"error": "AI_UPSTREAM_UNAVAILABLE", "message": "down"}))
        error = fails(script, settings=FetchSettings(retries=3))
        assert isinstance(error, UpstreamHTTPError)
        assert (error.attempts, error.http_status, error.retryable) == (4, 503, True)
        assert str(error) == (
            f"GET {URL} answered 503 AI_UPSTREAM_UNAVAILABLE: down (gave up after 4 attempts)"
        )
        assert len(script.requests) == 4

    def test_no_retries_setting(self) -> None:
        """retries=0 makes exactly one request."""
        error = fails(Script(status(503)), settings=FetchSettings(retries=0))
        assert error.attempts == 1 and error.retryable

    def test_terminal_after_retries_counts_every_attempt(self) -> None:
        """A 404 after two 503s reports three attempts."""
        error = fails(Script(status(503), status(503), status(404)))
        assert error.attempts == 3
        assert str(error).endswith("(check the URL) (3 attempts)")

    def test_each_retry_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """Each retry logs a WARNING with the safe URL, the cause, the attempt and the delay."""
        caplog.set_level(logging.WARNING, logger="etl.fetch")
        run(Script(status(503), status(502), ok()), URL + "?api_key=abc")
        messages = [r.getMessage() for r in caplog.records if r.name == "etl.fetch"]
        assert messages == [
            f"GET {URL}?api_key=*** answered 503 Service Unavailable (attempt 1 of 5);"
            " retrying in 0.2 s",
            f"GET {URL}?api_key=*** answered 502 Bad Gateway (attempt 2 of 5); retrying in 0.5 s",
        ]
        assert all(record.levelno == logging.WARNING for record in caplog.records)


class TestTotalTimeout:
    def test_no_sleep_crosses_the_deadline(self) -> None:
        """A retry whose backoff would end past total_timeout is not started."""
        time_ = FakeTime()

        def slow_failure(request: httpx.Request) -> httpx.Response:
            time_.now += 5
            return status(503)

        settings = FetchSettings(total_timeout=30, backoff_base=8, backoff_max=100, retries=10)
        script = Script(slow_failure)
        error = fails(script, time_=time_, settings=settings, random=lambda: 1.0)
        # t=5 fails, sleeps 8; t=18 fails, 16 more would end at 34 > 30.
        assert time_.sleeps == [8]
        assert error.attempts == 2 and error.retryable
        assert "gave up after 2 attempts: waiting 16.0 s more would pass the total timeout" in (
            str(error)
        )

    def test_retry_after_past_the_deadline_gives_up(self) -> None:
        """A Retry-After longer than the time left ends the fetch instead of waiting."""
        time_ = FakeTime()
        settings = FetchSettings(total_timeout=20)
        error = fails(
            Script(status(429, headers={"retry-after": "30"})), time_=time_, settings=settings
        )
        assert time_.sleeps == []
        assert error.attempts == 1 and error.http_status == 429

    def test_slow_body_stops_at_the_deadline(self) -> None:
        """A body that keeps trickling in past total_timeout is abandoned."""
        time_ = FakeTime()

        class Trickle(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for _ in range(1000):
                    time_.now += 1
                    yield b"[ "

        script = Script(httpx.Response(200, headers=JSON, stream=Trickle()))
        error = fails(script, time_=time_, settings=FetchSettings(total_timeout=10))
        assert isinstance(error, TransportError)
        assert "did not finish within the total timeout of 10 s" in str(error)
        assert time_.now < 1000 + 20


class TestTransportFaults:
    def test_read_timeout_is_retried(self) -> None:
        """A read timeout is a retryable TransportError, retried like a 503."""

        def timeout(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=request)

        error = fails(Script(timeout), settings=FetchSettings(retries=2, read_timeout=4))
        assert isinstance(error, TransportError)
        assert (error.attempts, error.retryable, error.http_status) == (3, True, None)
        assert "timed out waiting for the answer (nothing for 4 s)" in str(error)

    def test_connect_timeout_then_success(self) -> None:
        """A connect timeout followed by an answer succeeds on the second attempt."""

        def timeout(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectTimeout("timed out", request=request)

        assert run(Script(timeout, ok())).attempts == 2

    def test_real_server_too_slow(self, httpserver: HTTPServer) -> None:
        """A real server that answers after read_timeout fails with a timeout, quickly."""

        def slow(request: Request) -> Response:
            time.sleep(0.4)
            return Response(b"{}", content_type="application/json")

        httpserver.expect_request("/slow").respond_with_handler(slow)
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            real_fetch(
                httpserver.url_for("/slow"), settings=FetchSettings(read_timeout=0.1, retries=0)
            )
        assert time.monotonic() - started < 0.4  # it did not wait for the answer
        assert caught.value.retryable and caught.value.attempts == 1
        assert "timed out" in str(caught.value)
        time.sleep(0.35)  # let the server finish before the next test uses it

    def test_connection_refused(self) -> None:
        """A closed loopback port fails with a retryable error after every retry."""
        slept: list[float] = []
        url = f"http://127.0.0.1:{closed_port()}/models"
        with pytest.raises(TransportError) as caught:
            real_fetch(url, settings=FetchSettings(retries=2), sleep=slept.append)
        error = caught.value
        assert (error.attempts, error.retryable, error.http_status) == (3, True, None)
        assert str(error).startswith(f"GET {url}: cannot connect: ")
        assert "gave up after 3 attempts" in str(error)
        assert len(slept) == 2

    def test_connection_cut_short_is_retried(self) -> None:
        """A body cut off before its Content-Length is retried, and a whole answer then wins."""
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        body = b'{"data":[{"id":"a"}]}'
        with raw_server(head % 100 + body[:10], head % len(body) + body) as url:
            result = real_fetch(url)
        assert result.raw == body and result.attempts == 2

    def test_connection_cut_short_every_time(self) -> None:
        """A body always cut off fails with a retryable TransportError."""
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n{"
        with raw_server(answer, answer) as url, pytest.raises(TransportError) as caught:
            real_fetch(url, settings=FetchSettings(retries=1))
        assert caught.value.retryable and caught.value.attempts == 2
        assert "the connection was cut short" in str(caught.value)

    def test_body_shorter_than_content_length(self) -> None:
        """A body shorter than its Content-Length is a retryable error naming both sizes."""
        answer = httpx.Response(
            200,
            headers={"content-type": "application/json", "content-length": "100"},
            stream=httpx.ByteStream(b'{"data":[]}'),
        )
        error = fails(Script(answer), settings=FetchSettings(retries=0))
        assert isinstance(error, TransportError) and error.retryable
        assert error.http_status == 200
        assert "ended after 11 of the 100 bytes announced by Content-Length" in str(error)


class TestBadContent:
    def test_html_with_200_is_rejected(self, httpserver: HTTPServer) -> None:
        """An HTML page answered with 200 is rejected at once, naming the type and title."""
        httpserver.expect_request("/models").respond_with_data(
            "<!doctype html><html><head><title>Sign in</title></head></html>",
            content_type="text/html; charset=utf-8",
        )
        url = httpserver.url_for("/models")
        with pytest.raises(BadContentError) as caught:
            real_fetch(url)
        error = caught.value
        assert (
            str(error) == f"GET {url} answered 200 with Content-Type text/html, not JSON: Sign in"
        )
        assert (error.attempts, error.retryable, error.http_status) == (1, False, 200)

    @pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
    def test_other_types_are_rejected(self, content_type: str) -> None:
        """Content types other than JSON are rejected even when the body is JSON."""
        error = fails(Script(ok(b"{}", {"content-type": content_type})))
        assert isinstance(error, BadContentError)
        assert f"Content-Type {content_type}, not JSON" in str(error)

    def test_untyped_non_json_is_rejected(self) -> None:
        """A body with no content type is rejected unless it starts with { or [."""
        error = fails(Script(ok(b"hello", {})))
        assert isinstance(error, BadContentError)
        assert "no Content-Type and a body that is not JSON (it starts with 'hello')" in str(error)

    @pytest.mark.parametrize("body", [b"", b"  \r\n\t"])
    def test_empty_body(self, body: bytes) -> None:
        """An empty (or all-whitespace) body is a terminal error."""
        error = fails(Script(ok(body)))
        assert isinstance(error, BadContentError) and not error.retryable
        assert str(error) == f"GET {URL} answered 200 with an empty body"

    def test_empty_body_from_a_real_server(self, httpserver: HTTPServer) -> None:
        """A real 200 with no body is rejected after one request."""
        httpserver.expect_request("/models").respond_with_data(b"", content_type="application/json")
        with pytest.raises(BadContentError) as caught:
            real_fetch(httpserver.url_for("/models"))
        assert caught.value.attempts == 1

    def test_oversized_body_stops_reading_early(self) -> None:
        """A body over max_bytes is rejected as soon as the cap is passed."""
        stream = CountingStream(chunks=1000, size=1024)
        answer = httpx.Response(200, headers=JSON, stream=stream)
        error = fails(Script(answer), settings=FetchSettings(max_bytes=4096))
        assert isinstance(error, BadContentError) and not error.retryable
        assert "over the max_bytes limit of 4096 bytes; stopped reading" in str(error)
        assert stream.consumed == 5

    def test_oversized_content_length_is_rejected_unread(self) -> None:
        """A Content-Length over max_bytes is rejected before any of the body is read."""
        stream = CountingStream(chunks=10)
        answer = httpx.Response(200, headers={**JSON, "content-length": "999999999"}, stream=stream)
        error = fails(Script(answer), settings=FetchSettings(max_bytes=4096))
        assert "Content-Length 999999999, over the max_bytes limit of 4096 bytes" in str(error)
        assert stream.consumed == 0

    def test_oversized_real_body(self, httpserver: HTTPServer) -> None:
        """A real server's catalog over max_bytes is refused."""
        httpserver.expect_request("/models").respond_with_data(
            CATALOG, content_type="application/json"
        )
        with pytest.raises(BadContentError, match="max_bytes"):
            real_fetch(httpserver.url_for("/models"), settings=FetchSettings(max_bytes=100_000))

    @pytest.mark.parametrize("body", [b'{"data":[{"id":"a"', b'{"data":[{"id":"a"},', b"[1, 2"])
    def test_truncated_json(self, body: bytes) -> None:
        """JSON whose last non-blank byte is not } or ] is terminal and says it is truncated."""
        error = fails(Script(ok(body + b"\n")))
        assert isinstance(error, BadContentError) and not error.retryable
        assert error.attempts == 1
        assert "answered 200 with truncated JSON" in str(error)

    def test_scalar_json_is_rejected(self) -> None:
        """A JSON body that is not an object or array cannot be a catalog."""
        error = fails(Script(ok(b'"hello"')))
        assert "not a JSON object or array (it starts with '\"hello\"')" in str(error)

    def test_undecodable_gzip(self) -> None:
        """A body that claims gzip but is not is a terminal error."""

        class NotGzip(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                yield b"not gzip at all"

        answer = httpx.Response(200, headers={**JSON, "content-encoding": "gzip"}, stream=NotGzip())
        error = fails(Script(answer))
        assert isinstance(error, BadContentError) and not error.retryable
        assert "cannot be decoded" in str(error)

    def test_body_is_not_parsed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A single page without pagination markers is never json-parsed here."""

        def no_parsing(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("parsed")

        monkeypatch.setattr(json, "loads", no_parsing)
        assert run(Script(ok(CATALOG))).raw == CATALOG


def page(models: list[str], **extra: Any) -> bytes:
    return json.dumps({"data": [{"id": model} for model in models], **extra}).encode()


class TestPagination:
    def test_links_next_pages_are_spliced(self, httpserver: HTTPServer) -> None:
        """Pages linked by links.next (relative) come back as one envelope of exact bytes."""
        first = page(["a", "b"], links={"next": "/api/v1/models?page=2"})
        second = page(["c"], links={"next": None})
        httpserver.expect_request("/api/v1/models", query_string="page=2").respond_with_data(
            second, content_type="application/json"
        )
        httpserver.expect_request("/api/v1/models", query_string="").respond_with_data(
            first, content_type="application/json"
        )
        result = real_fetch(httpserver.url_for("/api/v1/models"))
        assert result.raw == b'{"catalog_etl_pages":[' + first + b"," + second + b"]}"
        assert json.loads(result.raw) == {
            "catalog_etl_pages": [json.loads(first), json.loads(second)]
        }
        assert (result.pages, result.attempts, result.http_status) == (2, 2, 200)
        models = [record.document["id"] for record in detect(json.loads(result.raw)).records]
        assert models == ["a", "b", "c"]

    def test_absolute_next_link(self) -> None:
        """An absolute links.next URL is followed as given."""
        script = Script(
            ok(page(["a"], links={"next": "https://gateway.example/p2?cursor=x"})), ok(page(["b"]))
        )
        result = run(script, token=MARKER)
        assert result.pages == 2
        assert str(script.requests[1].url) == "https://gateway.example/p2?cursor=x"
        assert script.requests[1].headers["authorization"] == f"Bearer {MARKER}"

    def test_total_count_offset_pagination(self, httpserver: HTTPServer) -> None:
        """With total_count above the models received and no next link, offset/limit pages
        are requested until every model has arrived."""
        pages = [page(["a", "b"], total_count=5), page(["c", "d"], total_count=5)]
        pages.append(page(["e"], total_count=5))
        for offset, body in ((2, pages[1]), (4, pages[2])):
            httpserver.expect_request(
                "/models", query_string={"offset": str(offset), "limit": "2"}
            ).respond_with_data(body, content_type="application/json")
        httpserver.expect_request("/models", query_string="").respond_with_data(
            pages[0], content_type="application/json"
        )
        result = real_fetch(httpserver.url_for("/models"))
        assert result.raw == b'{"catalog_etl_pages":[' + b",".join(pages) + b"]}"
        assert result.pages == 3
        assert len(detect(json.loads(result.raw)).records) == 5

    def test_offset_replaces_existing_parameters(self) -> None:
        """The offset and limit of later pages replace any the URL already had."""
        script = Script(ok(page(["a"], total_count=2)), ok(page(["b"], total_count=2)))
        run(script, URL + "?limit=1&offset=0&sort=id")
        assert script.requests[1].url.params == httpx.QueryParams(limit="1", offset="1", sort="id")

    def test_single_page_with_null_next_is_unchanged(self) -> None:
        """A page whose links.next is null and total_count is met is returned byte for byte."""
        body = page(["a"], links={"next": None}, total_count=1)
        result = run(Script(ok(body)))
        assert (result.raw, result.pages) == (body, 1)

    def test_markers_nested_elsewhere_do_not_paginate(self) -> None:
        """A "links" key inside a model is not pagination."""
        body = json.dumps({"data": [{"id": "a", "links": {"next": "/x"}}]}).encode()
        script = Script(ok(body))
        assert run(script).raw == body and len(script.requests) == 1

    def test_second_page_failing_fails_everything(self) -> None:
        """A page that keeps failing fails the whole fetch, counting every request."""
        script = Script(ok(page(["a"], links={"next": "/p2"})), status(500))
        error = fails(script, settings=FetchSettings(retries=2))
        assert isinstance(error, UpstreamHTTPError) and error.retryable
        assert error.attempts == 4
        assert "(gave up after 3 attempts at page 2, 4 requests in all)" in str(error)

    def test_page_retries_are_counted_per_page(self) -> None:
        """Each page gets its own retries; the result counts every request."""
        script = Script(
            status(503), ok(page(["a"], links={"next": "/p2"})), status(503), ok(page(["b"]))
        )
        result = run(script, settings=FetchSettings(retries=1))
        assert (result.pages, result.attempts) == (2, 4)

    def test_max_pages(self) -> None:
        """More pages than max_pages is an error, not a silently partial catalog."""
        counter = iter(range(100))

        def endless(request: httpx.Request) -> httpx.Response:
            return ok(page(["m"], links={"next": f"/p{next(counter)}"}))

        error = fails(Script(endless), settings=FetchSettings(max_pages=3))
        assert isinstance(error, BadContentError)
        assert "more than 3 pages (max_pages)" in str(error)
        assert error.attempts == 3

    def test_pagination_loop(self) -> None:
        """A next link pointing back at an earlier page is an error."""
        script = Script(
            ok(page(["a"], links={"next": "/p2"})), ok(page(["b"], links={"next": "/p2"}))
        )
        error = fails(script)
        assert "the pagination loops" in str(error)

    def test_empty_page_short_of_total(self) -> None:
        """A page with no models while total_count says more have to come is an error."""
        script = Script(ok(page(["a"], total_count=3)), ok(page([], total_count=3)))
        error = fails(script)
        assert "returned no models although total_count says 3 and 1 arrived" in str(error)

    def test_later_page_not_json(self) -> None:
        """A later page that is not valid JSON fails the fetch."""
        script = Script(ok(page(["a"], links={"next": "/p2"})), ok(b'{"data": [}'))
        error = fails(script)
        assert isinstance(error, BadContentError)
        assert "page 2 (https://gateway.example/p2) is not valid JSON" in str(error)

    def test_later_page_without_data(self) -> None:
        """A later page without a data list fails the fetch."""
        script = Script(ok(page(["a"], links={"next": "/p2"})), ok(b'{"models": []}'))
        assert "page 2 (https://gateway.example/p2) has no data list" in str(fails(script))

    def test_byte_order_marks_are_dropped_from_the_splice(self) -> None:
        """Pages starting with a BOM are spliced without it, so the envelope stays valid JSON."""
        bom = b"\xef\xbb\xbf"
        script = Script(ok(bom + page(["a"], links={"next": "/p2"})), ok(bom + page(["b"])))
        document = json.loads(run(script).raw)
        assert [p["data"][0]["id"] for p in document["catalog_etl_pages"]] == ["a", "b"]

    def test_next_link_to_another_origin_is_refused(self) -> None:
        """A next-page link that leaves the catalog's origin is refused, never requested."""
        script = Script(
            ok(page(["a"], links={"next": "https://elsewhere.example/p2"})), ok(page(["b"]))
        )
        error = fails(script, token=MARKER)
        assert isinstance(error, BadContentError)
        assert "next-page link to another origin, https://elsewhere.example/p2" in str(error)
        assert len(script.requests) == 1

    @pytest.mark.parametrize("link", ["ftp://elsewhere.example/p2", "mailto:x@example.com"])
    def test_next_link_with_another_scheme(self, link: str) -> None:
        """A next link that is not http(s) is bad content."""
        error = fails(Script(ok(page(["a"], links={"next": link}))))
        assert isinstance(error, BadContentError)
        assert "next-page link that is not an http(s) URL" in str(error)

    def test_insecure_next_link_is_refused(self) -> None:
        """A next link to plain http:// on another host is refused."""
        script = Script(ok(page(["a"], links={"next": "http://elsewhere.example/p2"})))
        error = fails(script)
        assert isinstance(error, InsecureURLError)
        assert "(next-page link http://elsewhere.example/p2)" in str(error)
        assert len(script.requests) == 1


class TestURLs:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/models",
            "http://127.8.9.10:8080/models",
            "http://[::1]:8080/models",
            "http://localhost/models",
            "http://LOCALHOST./models",
        ],
    )
    def test_plain_http_to_loopback_is_allowed(self, url: str) -> None:
        """Plain http:// to a loopback address or localhost is fetched."""
        assert run(Script(ok()), url).http_status == 200

    @pytest.mark.parametrize(
        "url",
        [
            "http://example.com/models",
            "http://10.0.0.1/models",
            "http://localhost.example.com/models",
            "http://[::ffff:10.0.0.1]/models",
        ],
    )
    def test_plain_http_elsewhere_is_refused(self, url: str) -> None:
        """Plain http:// to a non-loopback host is refused before any request."""
        script = Script(ok())
        error = fails(script, url, token=MARKER)
        assert isinstance(error, InsecureURLError) and not error.retryable
        assert (error.attempts, error.http_status) == (0, None)
        assert script.requests == []
        assert "use https://" in str(error)

    def test_allow_insecure_http(self) -> None:
        """allow_insecure_http lets plain http:// through."""
        settings = FetchSettings(allow_insecure_http=True)
        assert run(Script(ok()), "http://example.com/models", settings=settings).pages == 1

    def test_redirect_to_insecure_http_is_refused(self) -> None:
        """A redirect from https:// to plain http:// elsewhere is refused."""

        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.scheme == "https":
                return status(302, headers={"location": "http://mirror.example/models"})
            return ok()

        error = fails(Script(answer), client_options={"follow_redirects": True})
        assert isinstance(error, InsecureURLError)
        assert "redirect target http://mirror.example/models" in str(error)

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("ftp://host/models", "scheme ftp:; expected an https:// URL"),
            ("not a url", "no scheme; expected an https:// URL"),
            ("/api/ai/models", "no scheme; expected an https:// URL"),
            ("https://", "the URL names no host"),
            ("https://host:99999/models", "port 99999 is out of range"),
            ("https://[::1/models", "is not a valid URL"),
        ],
    )
    def test_malformed_urls(self, url: str, expected: str) -> None:
        """Unsupported schemes and malformed URLs are terminal errors saying what is wrong."""
        error = fails(Script(ok()), url)
        assert isinstance(error, InvalidRequestError) and not error.retryable
        assert expected in str(error)
        assert error.attempts == 0

    @pytest.mark.parametrize("token", ["two words", "line\nbreak", "trailing ", "ünïcode"])
    def test_unusable_token(self, token: str) -> None:
        """A token that cannot go in a header is refused without echoing it."""
        error = fails(Script(ok()), token=token)
        assert isinstance(error, InvalidRequestError)
        assert token not in str(error)
        assert "CATALOG_ETL_API_TOKEN" in str(error)


class TestSafeURL:
    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("https://user:pw@host/p?x=1", "https://host/p?x=1"),
            ("https://host/p?api_key=abc&x=1", "https://host/p?api_key=***&x=1"),
            ("https://host/p?access_token=abc", "https://host/p?access_token=***"),
            ("https://host/p?X-Amz-Signature=abc&a=b", "https://host/p?X-Amz-Signature=***&a=b"),
            (
                "https://host/p?Secret=1&password=2&auth=3",
                "https://host/p?Secret=***&password=***&auth=***",
            ),
            ("https://host/p?page=2&limit=50", "https://host/p?page=2&limit=50"),
            ("https://host/p?flag", "https://host/p?flag"),
            ("https://host/p#access_token=abc", "https://host/p"),
            ("https://host:8443/p", "https://host:8443/p"),
            ("https://[::1/p", "<malformed URL>"),
        ],
    )
    def test_masking(self, url: str, shown: str) -> None:
        """Userinfo, fragments and secret-looking query values are hidden; the rest is kept."""
        assert safe_url(url) == shown

    @given(
        name=st.sampled_from(["token", "apikey", "key", "client_secret", "password", "sig"]),
        value=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=40),
    )
    def test_secret_values_never_show(self, name: str, value: str) -> None:
        """The value of a secret-named parameter never survives, wherever it sits."""
        assert value not in safe_url(f"https://host/p?a=1&{name}={value}&b=2")

    def test_result_url_is_safe(self) -> None:
        """FetchResult.url is the masked URL."""
        result = run(Script(ok()), "https://me:pw@gateway.example/m?key=abc")
        assert result.url == "https://gateway.example/m?key=***"


class TestTokenNeverLeaks:
    def scenarios(self, httpserver: HTTPServer) -> list[tuple[str, Callable[[], FetchResult]]]:
        echo = {"error": "AUTH_INVALID_CREDENTIALS", "message": f"bad token {MARKER}"}
        httpserver.expect_request("/401").respond_with_json(echo, status=401)
        httpserver.expect_request("/503").respond_with_json(echo, status=503)
        httpserver.expect_request("/html").respond_with_data(
            f"<html><title>{MARKER}</title></html>", content_type="text/html"
        )
        httpserver.expect_request("/cut").respond_with_data(
            '{"data": "' + MARKER, content_type="application/json"
        )
        httpserver.expect_request("/ok").respond_with_json({"data": []})
        url = httpserver.url_for
        port = closed_port()
        return [
            ("401", lambda: real_fetch(url("/401"), token=MARKER)),
            ("503", lambda: real_fetch(url("/503"), token=MARKER)),
            ("html", lambda: real_fetch(url("/html"), token=MARKER)),
            ("cut", lambda: real_fetch(url("/cut"), token=MARKER)),
            ("refused", lambda: real_fetch(f"http://127.0.0.1:{port}/", token=MARKER)),
            ("insecure", lambda: real_fetch(f"http://x.example/?token={MARKER}", token=MARKER)),
            ("ok", lambda: real_fetch(url("/ok"), token=MARKER)),
        ]

    def test_marker_token_appears_nowhere(
        self, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The token is in no error message, repr, result or log line, even when echoed."""
        caplog.set_level(logging.DEBUG)
        seen: list[str] = []
        for name, scenario in self.scenarios(httpserver):
            try:
                result = scenario()
            except SyncError as error:
                assert isinstance(error, FetchError)
                assert error.__cause__ is None
                assert error.__context__ is None or error.__suppress_context__
                seen += [name, str(error), repr(error), repr(error.args), repr(vars(error))]
            else:
                seen += [name, repr(result), result.url, str(result.raw)]
        text = "\n".join(seen)
        assert MARKER not in text
        assert MARKER not in caplog.text
        assert "bad token ***" in text  # the echoed message is kept, with the token masked
        assert any(record.name == "etl.fetch" for record in caplog.records)
        sent = [request.headers.get("Authorization") for request, _ in httpserver.log]
        assert f"Bearer {MARKER}" in sent  # the token did go where it belongs

    def test_token_copied_into_the_url_is_masked_too(self) -> None:
        """If the token also sits in the URL, our messages and result still mask it."""
        result = run(Script(ok()), f"{URL}?q={MARKER}", token=MARKER)
        assert result.url == f"{URL}?q=***"
        error = fails(Script(status(404)), f"{URL}?q={MARKER}", token=MARKER)
        assert MARKER not in str(error) and f"{URL}?q=***" in str(error)


class TestRedirects:
    def test_cross_origin_redirect_drops_authorization(
        self, httpserver: HTTPServer, other_server: HTTPServer
    ) -> None:
        """After a redirect to another origin the Authorization header is not sent."""
        other_server.expect_request("/models").respond_with_json({"data": []})
        httpserver.expect_request("/models").respond_with_data(
            "", status=302, headers={"Location": other_server.url_for("/models")}
        )
        result = real_fetch(httpserver.url_for("/models"), token=MARKER)
        assert result.http_status == 200 and result.attempts == 1
        (first, _), (second, _) = httpserver.log[0], other_server.log[0]
        assert first.headers.get("Authorization") == f"Bearer {MARKER}"
        assert "Authorization" not in second.headers

    def test_same_origin_redirect_keeps_authorization(self, httpserver: HTTPServer) -> None:
        """A redirect within the same origin keeps the token."""
        httpserver.expect_request("/new").respond_with_json({"data": []})
        httpserver.expect_request("/old").respond_with_data(
            "", status=301, headers={"Location": "/new"}
        )
        real_fetch(httpserver.url_for("/old"), token=MARKER)
        assert [r.headers.get("Authorization") for r, _ in httpserver.log] == [
            f"Bearer {MARKER}"
        ] * 2

    def test_redirect_loop(self) -> None:
        """Endless redirects end in a terminal error."""
        script = Script(status(302, headers={"location": "/again"}))
        error = fails(script, client_options={"follow_redirects": True, "max_redirects": 3})
        assert isinstance(error, UpstreamHTTPError) and not error.retryable
        assert "redirected more than 3 times" in str(error)


class TestErrors:
    def test_tree(self) -> None:
        """Every fetch error is a SyncError; retryability follows the class unless overridden."""
        for cls in (InvalidRequestError, UpstreamHTTPError, TransportError, BadContentError):
            assert issubclass(cls, FetchError) and issubclass(FetchError, SyncError)
        assert issubclass(InsecureURLError, InvalidRequestError)
        assert TransportError("x").retryable and not BadContentError("x").retryable
        assert UpstreamHTTPError("x", retryable=True).retryable

    @pytest.mark.parametrize(
        "settings",
        [{"retries": -1}, {"total_timeout": 0}, {"max_bytes": 0}, {"max_pages": 0}],
    )
    def test_settings_are_checked(self, settings: dict[str, Any]) -> None:
        """Nonsensical settings are refused when made."""
        with pytest.raises(ValueError, match="FetchSettings"):
            FetchSettings(**settings)
