"""`sync --url` end to end against a real HTTP server on loopback: every fault leaves the
history untouched and says why, in the exit code, the message and the run row.

Retries never really sleep: library-level cases inject ``sleep``; CLI cases use answers that
need no wait (Retry-After: 0).
"""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select, text

from etl.cli import cli
from etl.db.tables import metadata, sync_runs_table
from etl.ingest.fetch import FetchSettings
from etl.pipeline import SyncResult, sync_url
from tests.helpers import count_rows, make_model, read_bytes

CATALOG = read_bytes("openrouter/2025-11-19_teatreechat.json.gz")
JSON = "application/json"
MARKER = "tok-MARKER-5b1e77c0"


def history(engine: Engine) -> dict[str, int]:
    counts = count_rows(engine)
    del counts["sync_runs"]
    return counts


def cli_sync(url: str, database_url: str, *extra: str, expect: int) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli,
        ["sync", "--url", url, "--database-url", database_url, "--format", "json", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == expect, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def run_row(engine: Engine, run_id: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(sync_runs_table).where(sync_runs_table.c.id == run_id)
        ).one()


def library_sync(engine: Engine, url: str, **fetch: Any) -> SyncResult:
    sleeps: list[float] = []
    settings = fetch.pop("settings", FetchSettings())
    return sync_url(engine, url, fetch_settings=settings, fetch={"sleep": sleeps.append, **fetch})


@pytest.fixture
def seeded(engine: Engine, database_url: str, httpserver: HTTPServer) -> Engine:
    """A database that already holds the 337-model catalog, synced over HTTP."""
    httpserver.expect_ordered_request("/seed").respond_with_data(CATALOG, content_type=JSON)
    cli_sync(httpserver.url_for("/seed"), database_url, "--observed-at", "2025-11-19", expect=0)
    return engine


class TestSuccess:
    def test_sync_from_url_records_http_facts(
        self, seeded: Engine, database_url: str, httpserver: HTTPServer
    ) -> None:
        """A 200 catalog applies; the run keeps the status, attempts, bytes and safe source."""
        with seeded.connect() as connection:
            run = connection.execute(select(sync_runs_table)).one()
        assert (run.status, run.http_status, run.attempts) == ("succeeded", 200, 1)
        assert run.bytes == len(CATALOG)
        assert run.source == httpserver.url_for("/seed")
        assert history(seeded)["models"] == 337

    def test_two_pages_are_one_catalog(self, engine: Engine, httpserver: HTTPServer) -> None:
        """A catalog split over two pages applies as one, archived as the exact page bytes."""
        second = {"data": [make_model("p/two")], "links": {"next": None}}
        first = {"data": [make_model("p/one")], "links": {"next": httpserver.url_for("/page2")}}
        httpserver.expect_ordered_request("/page1").respond_with_json(first)
        httpserver.expect_ordered_request("/page2").respond_with_json(second)
        result = library_sync(engine, httpserver.url_for("/page1"))
        assert result.ok, result.error
        assert (result.added, result.attempts) == (2, 2)

    def test_retry_after_then_success(self, engine: Engine, httpserver: HTTPServer) -> None:
        """429 with Retry-After, then 200: applied, two attempts recorded."""
        httpserver.expect_ordered_request("/m").respond_with_data(
            "slow down", status=429, headers={"Retry-After": "0"}
        )
        httpserver.expect_ordered_request("/m").respond_with_data(CATALOG, content_type=JSON)
        summary = cli_sync(httpserver.url_for("/m"), _url(engine), expect=0)
        assert (summary["status"], summary["attempts"], summary["http_status"]) == (
            "succeeded",
            2,
            200,
        )

    def test_503_twice_then_success(self, engine: Engine, httpserver: HTTPServer) -> None:
        """Two 503s then a 200: applied on the third attempt."""
        for _ in range(2):
            httpserver.expect_ordered_request("/m").respond_with_json(
                {"error": "AI_UPSTREAM_UNAVAILABLE", "message": "try later"}, status=503
            )
        httpserver.expect_ordered_request("/m").respond_with_data(CATALOG, content_type=JSON)
        result = library_sync(engine, httpserver.url_for("/m"))
        assert result.ok and result.attempts == 3


class TestFailures:
    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            (
                401,
                {"error": "AUTH_INVALID_CREDENTIALS", "message": "No admin token provided"},
                "401 AUTH_INVALID_CREDENTIALS: No admin token provided",
            ),
            (
                403,
                {"error": "AUTH_UNAUTHORIZED", "message": "Admin access required"},
                "403 AUTH_UNAUTHORIZED: Admin access required",
            ),
            (404, {"error": "Not found"}, "404"),
        ],
    )
    def test_client_errors_fail_at_once(
        self,
        seeded: Engine,
        database_url: str,
        httpserver: HTTPServer,
        status: int,
        body: dict[str, str],
        expected: str,
    ) -> None:
        """401/403/404: one attempt, exit 1, the upstream's own words, nothing changed."""
        before = history(seeded)
        httpserver.expect_ordered_request("/m").respond_with_json(body, status=status)
        summary = cli_sync(httpserver.url_for("/m"), database_url, expect=1)
        assert expected in summary["error"]
        assert (summary["status"], summary["attempts"], summary["http_status"]) == (
            "failed",
            1,
            status,
        )
        run = run_row(seeded, summary["run_id"])
        assert (run.status, run.error, run.http_status, run.attempts) == (
            "failed",
            summary["error"],
            status,
            1,
        )
        assert history(seeded) == before

    @pytest.mark.parametrize(
        ("body", "content_type", "expected"),
        [
            (b"<html><title>Login</title></html>", "text/html", "not JSON"),
            (CATALOG[: len(CATALOG) // 2], JSON, "truncated JSON"),
            (b"", JSON, "empty body"),
        ],
        ids=["html-200", "truncated", "empty"],
    )
    def test_unusable_answers_change_nothing(
        self,
        seeded: Engine,
        database_url: str,
        httpserver: HTTPServer,
        body: bytes,
        content_type: str,
        expected: str,
    ) -> None:
        """HTML with 200, truncated JSON and an empty body fail before anything is parsed."""
        before = history(seeded)
        httpserver.expect_ordered_request("/m").respond_with_data(body, content_type=content_type)
        summary = cli_sync(httpserver.url_for("/m"), database_url, expect=1)
        assert expected in summary["error"]
        assert run_row(seeded, summary["run_id"]).status == "failed"
        assert history(seeded) == before

    def test_oversized_body(self, seeded: Engine, httpserver: HTTPServer) -> None:
        """A body over the size cap is refused and nothing is applied."""
        before = history(seeded)
        httpserver.expect_ordered_request("/m").respond_with_data(CATALOG, content_type=JSON)
        result = library_sync(
            seeded, httpserver.url_for("/m"), settings=FetchSettings(max_bytes=1000)
        )
        assert result.status == "failed" and "max_bytes" in (result.error or "")
        assert history(seeded) == before

    def test_read_timeout(self, seeded: Engine, httpserver: HTTPServer) -> None:
        """An upstream that does not answer in time fails the run as retryable."""
        import time

        before = history(seeded)

        def slow(_request: Any) -> Any:
            time.sleep(0.5)
            from werkzeug import Response

            return Response(CATALOG, content_type=JSON)

        httpserver.expect_request("/m").respond_with_handler(slow)
        result = library_sync(
            seeded, httpserver.url_for("/m"), settings=FetchSettings(read_timeout=0.1, retries=0)
        )
        assert result.status == "failed" and result.retryable
        assert "timed out" in (result.error or "")
        assert history(seeded) == before

    def test_connection_refused(self, seeded: Engine, database_url: str) -> None:
        """A closed port fails the run with the connection error, nothing changed."""
        before = history(seeded)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        summary = cli_sync(f"http://127.0.0.1:{port}/m", database_url, "--retries", "0", expect=1)
        assert "cannot connect" in summary["error"]
        assert history(seeded) == before

    def test_failing_second_page_fails_everything(
        self, seeded: Engine, httpserver: HTTPServer
    ) -> None:
        """When page 2 keeps failing, page 1 is not applied either."""
        before = history(seeded)
        first = {"data": [make_model("p/one")], "links": {"next": httpserver.url_for("/page2")}}
        httpserver.expect_ordered_request("/page1").respond_with_json(first)
        httpserver.expect_request("/page2").respond_with_data("boom", status=500)
        result = library_sync(
            seeded, httpserver.url_for("/page1"), settings=FetchSettings(retries=2)
        )
        assert result.status == "failed" and "500" in (result.error or "")
        assert result.attempts == 4
        assert history(seeded) == before


class TestGuards:
    def test_catalog_missing_most_models_is_held(
        self, seeded: Engine, database_url: str, httpserver: HTTPServer
    ) -> None:
        """A 200 catalog with 90% of the models missing is held: exit 3, nothing applied."""
        before = history(seeded)
        models = json.loads(CATALOG)["data"][:34]
        httpserver.expect_ordered_request("/m").respond_with_json({"data": models})
        summary = cli_sync(httpserver.url_for("/m"), database_url, expect=3)
        assert summary["status"] == "held"
        assert "303 of the 337 available models" in summary["error"]
        assert run_row(seeded, summary["run_id"]).status == "held"
        after = history(seeded)
        # Nothing applied; the payload is archived, for `catalog-etl runs release`.
        assert after.pop("payloads") == before.pop("payloads") + 1
        assert after == before

    def test_unconfigured_insforge_changes_no_model(
        self, seeded: Engine, database_url: str, httpserver: HTTPServer
    ) -> None:
        """InsForge without a key (configured: false) applies, and no model goes away."""
        httpserver.expect_ordered_request("/m").respond_with_data(
            read_bytes("insforge/2025-11-19_insforge_unconfigured.json.gz"), content_type=JSON
        )
        summary = cli_sync(httpserver.url_for("/m"), database_url, expect=0)
        assert (summary["status"], summary["removed"]) == ("succeeded", 0)
        with seeded.connect() as connection:
            available = connection.execute(text("SELECT COUNT(*) FROM models WHERE available"))
            assert available.scalar_one() == 337


class TestSecrets:
    def test_token_never_leaks(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The token is sent as a bearer header but appears in no output, log or table."""
        monkeypatch.setenv("CATALOG_ETL_API_TOKEN", MARKER)
        caplog.set_level(logging.DEBUG)
        httpserver.expect_ordered_request(
            "/m", headers={"Authorization": f"Bearer {MARKER}"}
        ).respond_with_data(CATALOG, content_type=JSON)
        httpserver.expect_ordered_request("/m").respond_with_json(
            {"error": "AUTH_INVALID_CREDENTIALS", "message": f"bad token {MARKER}"}, status=401
        )
        url = httpserver.url_for("/m") + f"?api_key={MARKER}"
        outputs = [
            CliRunner().invoke(cli, ["sync", "--url", url, "--database-url", database_url]).output,
            CliRunner().invoke(cli, ["sync", "--url", url, "--database-url", database_url]).output,
            CliRunner()
            .invoke(cli, ["runs", "--database-url", database_url, "--format", "json"])
            .output,
        ]
        assert "AUTH_INVALID_CREDENTIALS" in outputs[1]
        for output in outputs:
            assert MARKER not in output
        ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # the test server
        assert ours and all(MARKER not in r.getMessage() for r in ours)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    assert MARKER not in repr(tuple(row)), table.name

    def test_token_file(
        self,
        engine: Engine,
        database_url: str,
        httpserver: HTTPServer,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Any,
    ) -> None:
        """CATALOG_ETL_API_TOKEN_FILE supplies the token (a container secret)."""
        secret = tmp_path / "token"
        secret.write_text(MARKER + "\n")
        monkeypatch.setenv("CATALOG_ETL_API_TOKEN_FILE", str(secret))
        httpserver.expect_ordered_request(
            "/m", headers={"Authorization": f"Bearer {MARKER}"}
        ).respond_with_data(CATALOG, content_type=JSON)
        cli_sync(httpserver.url_for("/m"), database_url, expect=0)

    def test_plain_http_to_a_remote_host_is_refused(self, database_url: str) -> None:
        """http:// to a non-loopback host is refused before any request."""
        summary = cli_sync("http://catalog.example/models", database_url, expect=1)
        assert "refusing plain http://" in summary["error"]


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)
