"""Hostile upstreams, as an attacker would try them: decompression bombs in every content
encoding and in `.json.gz` files, redirects and next-page links to other origins and to
plain http. Every server here listens on loopback; where a rule is about other hosts, what
counts as local is injected instead of sending traffic anywhere else."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from pytest_httpserver import HTTPServer

from etl.ingest.fetch import BadContentError, FetchSettings, InsecureURLError, fetch_catalog
from tests.helpers import make_model

GIB = 1024**3
MIB = 1024**2
RSS_CEILING = 300 * MIB
"""Peak memory allowed to a whole `catalog-etl` process fed a 1 GiB bomb (the cap is 64 MiB)."""


def _gzip_bomb() -> bytes:
    # Members of a gzip stream follow one another: 1024 members of 1 MiB of spaces each.
    return gzip.compress(b" " * MIB, compresslevel=9) * 1024


def _deflate_bomb() -> bytes:
    packer = zlib.compressobj(9)
    block = b" " * MIB
    return b"".join(packer.compress(block) for _ in range(1024)) + packer.flush()


def _zstd_bomb() -> bytes:
    packer = zstandard.ZstdCompressor(level=3).compressobj()
    block = b" " * MIB
    return b"".join(packer.compress(block) for _ in range(1024)) + packer.flush()


@pytest.fixture(scope="session")
def bombs() -> dict[str, bytes]:
    """Bodies that decode to 1 GiB, by content encoding (each about a megabyte or less)."""
    return {"gzip": _gzip_bomb(), "deflate": _deflate_bomb(), "zstd": _zstd_bomb()}


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """A second loopback server, on another port: another origin, counting its requests."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


_MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and writes its peak RSS (KiB) to a file. A process forked from pytest
itself would count pytest's pages as its own high-water mark, which survives exec; one
forked from this small interpreter counts only what the command uses."""


def run_cli(*args: str, tmp_path: Path) -> tuple[int, str, str, int]:
    """`python -m etl ARGS` in a child process: exit code, stdout, stderr and its peak RSS
    in bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_ETL_")}
    env["CATALOG_ETL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'catalog.db'}"
    peak = tmp_path / "peak-rss"
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(peak), sys.executable, "-m", "etl", *args],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    rss = int(peak.read_text()) * 1024
    return done.returncode, done.stdout.decode(), done.stderr.decode(), rss


class TestDecompressionBombs:
    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
    def test_a_bomb_over_http_is_refused_within_bounded_memory(
        self, encoding: str, bombs: dict[str, bytes], httpserver: HTTPServer, tmp_path: Path
    ) -> None:
        """A response that decodes to 1 GiB is refused once the decoded body passes the
        64 MiB cap, with one clear line, and the process never holds the gigabyte."""
        httpserver.expect_request("/models").respond_with_data(
            bombs[encoding],
            headers={"Content-Encoding": encoding},
            content_type="application/json",
        )
        url = httpserver.url_for("/models")
        code, stdout, stderr, peak = run_cli(
            "sync", "--url", url, "--format", "json", tmp_path=tmp_path
        )
        assert code == 1, stderr
        result = json.loads(stdout)
        assert result["status"] == "failed"
        assert "over the max_bytes limit" in result["error"] and "once decoded" in result["error"]
        assert "Traceback" not in stderr
        assert peak < RSS_CEILING, f"peak RSS {peak / MIB:.0f} MiB"

    def test_an_encoding_not_offered_is_refused_undecoded(self, httpserver: HTTPServer) -> None:
        """Brotli (not offered: it cannot be decoded with a bound here) is refused as such."""
        httpserver.expect_request("/models").respond_with_data(
            b"\x1b\x00\x00", headers={"Content-Encoding": "br"}, content_type="application/json"
        )
        with pytest.raises(BadContentError, match="Content-Encoding br is not supported"):
            fetch_catalog(httpserver.url_for("/models"))
        ((request, _),) = httpserver.log
        assert "br" not in request.headers["Accept-Encoding"]

    def test_small_bodies_in_every_encoding_still_decode(self, httpserver: HTTPServer) -> None:
        """The bounded decoders give back exactly what was sent, in each encoding."""
        body = json.dumps({"data": [make_model("a/one")]}).encode()
        packed = {
            "gzip": gzip.compress(body),
            "deflate": zlib.compress(body),
            "zstd": zstandard.ZstdCompressor().compress(body),
            "identity": body,
        }
        for encoding, data in packed.items():
            httpserver.expect_oneshot_request("/m").respond_with_data(
                data, headers={"Content-Encoding": encoding}, content_type="application/json"
            )
            assert fetch_catalog(httpserver.url_for("/m")).raw == body, encoding

    @pytest.mark.parametrize("command", ["sync", "backfill"])
    def test_a_bomb_file_is_refused_within_bounded_memory(
        self, command: str, bombs: dict[str, bytes], tmp_path: Path
    ) -> None:
        """A `.json.gz` that decompresses to 1 GiB, given to `sync --file` or `backfill`, is
        refused with one clear line within bounded memory."""
        bomb = tmp_path / "2026-03-01.json.gz"
        bomb.write_bytes(bombs["gzip"])
        args = ["sync", "--file", str(bomb)] if command == "sync" else ["backfill", str(bomb)]
        code, stdout, stderr, peak = run_cli(*args, "--format", "json", tmp_path=tmp_path)
        assert code == 1, stderr
        assert "decompression bomb" in stdout + stderr
        assert "Traceback" not in stderr
        assert peak < RSS_CEILING, f"peak RSS {peak / MIB:.0f} MiB"


def _local_is(name: str) -> FetchSettings:
    """Settings under which only ``name`` counts as this machine (plain http allowed)."""
    return FetchSettings(is_local=lambda host: host == name, retries=0)


class TestRedirects:
    def test_a_redirect_to_plain_http_elsewhere_is_never_requested(
        self, httpserver: HTTPServer, elsewhere: HTTPServer
    ) -> None:
        """A redirect to plain http:// on a host that is not this machine is refused before
        it is followed: the other server sees no request at all."""
        elsewhere.expect_request("/models").respond_with_json({"data": []})
        target = elsewhere.url_for("/models")  # http://127.0.0.1:PORT, "not local" here
        httpserver.expect_request("/models").respond_with_data(
            "", status=302, headers={"Location": target}
        )
        start = httpserver.url_for("/models").replace("127.0.0.1", "localhost")
        with pytest.raises(InsecureURLError, match="redirect target"):
            fetch_catalog(start, settings=_local_is("localhost"))
        assert elsewhere.log == []

    def test_a_redirect_is_checked_at_every_hop(
        self, httpserver: HTTPServer, elsewhere: HTTPServer
    ) -> None:
        """A first redirect within this machine is followed; the second, to plain http
        elsewhere, is refused before it is requested."""
        elsewhere.expect_request("/models").respond_with_json({"data": []})
        httpserver.expect_request("/first").respond_with_data(
            "", status=301, headers={"Location": "/second"}
        )
        httpserver.expect_request("/second").respond_with_data(
            "", status=307, headers={"Location": elsewhere.url_for("/models")}
        )
        start = httpserver.url_for("/first").replace("127.0.0.1", "localhost")
        with pytest.raises(InsecureURLError):
            fetch_catalog(start, settings=_local_is("localhost"))
        assert [request.path for request, _ in httpserver.log] == ["/first", "/second"]
        assert elsewhere.log == []

    def test_a_followed_redirect_to_another_origin_gets_no_token(
        self, httpserver: HTTPServer, elsewhere: HTTPServer
    ) -> None:
        """A redirect to another origin is followed (both are this machine here), but the
        token stays with the catalog's own origin."""
        elsewhere.expect_request("/models").respond_with_json({"data": []})
        httpserver.expect_request("/models").respond_with_data(
            "", status=302, headers={"Location": elsewhere.url_for("/models")}
        )
        fetch_catalog(httpserver.url_for("/models"), token="tok-REDIRECT-1")
        ((first, _),) = httpserver.log
        ((second, _),) = elsewhere.log
        assert first.headers["Authorization"] == "Bearer tok-REDIRECT-1"
        assert "Authorization" not in second.headers


class TestNextPageLinks:
    def test_a_next_link_to_another_origin_is_never_requested(
        self, httpserver: HTTPServer, elsewhere: HTTPServer, tmp_path: Path
    ) -> None:
        """`sync --url` of a paginated list whose next link leaves the catalog's origin fails
        with a clear line, and the other origin sees no request."""
        elsewhere.expect_request("/p2").respond_with_json({"data": []})
        httpserver.expect_request("/models").respond_with_json(
            {"data": [make_model("a/one")], "links": {"next": elsewhere.url_for("/p2")}}
        )
        code, stdout, stderr, _ = run_cli(
            "sync", "--url", httpserver.url_for("/models"), "--format", "json", tmp_path=tmp_path
        )
        assert code == 1, stderr
        assert "next-page link to another origin" in json.loads(stdout)["error"]
        assert elsewhere.log == []

    def test_a_next_link_to_plain_http_elsewhere_is_never_requested(
        self, httpserver: HTTPServer, elsewhere: HTTPServer
    ) -> None:
        """A next link to plain http:// on a host that is not this machine is refused."""
        elsewhere.expect_request("/p2").respond_with_json({"data": []})
        httpserver.expect_request("/models").respond_with_json(
            {"data": [make_model("a/one")], "links": {"next": elsewhere.url_for("/p2")}}
        )
        start = httpserver.url_for("/models").replace("127.0.0.1", "localhost")
        with pytest.raises(InsecureURLError, match="next-page link"):
            fetch_catalog(start, settings=_local_is("localhost"))
        assert elsewhere.log == []
