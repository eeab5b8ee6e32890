"""Prometheus metrics of ``catalog-etl serve`` (``--metrics-port``), with prometheus-client.

Two kinds of numbers, on purpose:

* What the database says, refreshed after every sync and every heartbeat:
  ``catalog_etl_last_success_timestamp_seconds`` and ``catalog_etl_models_available``. With
  several replicas every one of them reports the same truth, so an alert on the age of the
  last success does not fire on a replica that merely lost the race for the lock.
* What this process did: ``catalog_etl_sync_runs_total{status}``,
  ``catalog_etl_sync_duration_seconds`` and ``catalog_etl_price_changes_total`` (counters
  restart at 0 with the process, as Prometheus expects).

A service of several catalogs (``serve --config``) labels every one of these with
``catalog``, and reads the database's numbers per catalog: a catalog that keeps failing shows
as stale even while another one succeeds. ``serve --url`` keeps its unlabelled series.

Each :class:`Metrics` has its own registry, so tests and several services in one process
never collide.

The same HTTP server answers ``GET /feed.xml`` with the Atom feed of recent changes when it
is given a function that makes it (``Metrics(feed=...)`` or ``serve(..., feed=...)``): the
feed is built at each request, from the database, by that function (the service never
draws a report itself). A feed that cannot be built is a 503 and a log line, never a
stopped server; an unchanged feed is a 304 to a reader that sends its ETag back.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import make_wsgi_app

from etl.text import visible

logger = logging.getLogger("etl.serve")

FEED_PATH = "/feed.xml"
FeedMaker = Callable[[Sequence[str]], bytes]
"""Builds the feed of the catalogs named (``?catalog=NAME``, repeatable; every one when
none)."""
FEED_TYPE = "application/atom+xml; charset=utf-8"
RUN_STATUSES = ("succeeded", "failed", "held", "skipped")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    feed: FeedMaker | None = None
    """Makes the Atom feed ``/feed.xml`` answers with (see the module); None: no feed."""
    catalogs: Sequence[str] = ()
    """The catalogs named by a ``catalog`` label (see the module); none: no such label."""

    def __post_init__(self) -> None:
        registry = self.registry
        by = ["catalog"] if self.catalogs else []
        self.last_success = Gauge(
            "catalog_etl_last_success_timestamp_seconds",
            "Unix time when the latest successful sync (by any process) finished; 0 if none.",
            by,
            registry=registry,
        )
        self.last_run = Gauge(
            "catalog_etl_last_run_timestamp_seconds",
            "Unix time when this process's latest sync attempt ended.",
            by,
            registry=registry,
        )
        self.duration = Histogram(
            "catalog_etl_sync_duration_seconds",
            "Duration of this process's sync attempts, fetch included.",
            by,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.runs = Counter(
            "catalog_etl_sync_runs",
            "Sync attempts of this process, by final status (failed includes unrecorded ones).",
            [*by, "status"],
            registry=registry,
        )
        self.models_available = Gauge(
            "catalog_etl_models_available",
            "Models available now, according to the database.",
            by,
            registry=registry,
        )
        self.price_changes = Counter(
            "catalog_etl_price_changes",
            "Price changes written by this process's syncs.",
            by,
            registry=registry,
        )
        # Every series exists from the start, at 0: an alert needs no first event.
        for labels in self._every_catalog():
            for status in RUN_STATUSES:
                self.runs.labels(**labels, status=status)
            if labels:
                for metric in self._per_catalog():
                    metric.labels(**labels)

    def observe_run(
        self,
        status: str,
        duration: float,
        price_changes: int,
        ended: float,
        *,
        catalog: str | None = None,
    ) -> None:
        """Count one sync attempt of this process (``ended``: Unix time) of ``catalog``
        (labelled when the metrics are by catalog)."""
        labels = self._labels(catalog)
        self.runs.labels(**labels, status=status).inc()
        self._series(self.duration, labels).observe(duration)
        self._series(self.price_changes, labels).inc(price_changes)
        self._series(self.last_run, labels).set(ended)

    def observe_database(
        self, last_success: float | None, models_available: int, *, catalog: str | None = None
    ) -> None:
        """What the database says now (``last_success``: Unix time, None if never), about
        ``catalog`` (labelled when the metrics are by catalog)."""
        labels = self._labels(catalog)
        self._series(self.last_success, labels).set(last_success or 0)
        self._series(self.models_available, labels).set(models_available)

    def _per_catalog(self) -> tuple[Any, ...]:
        return (
            self.last_success,
            self.last_run,
            self.duration,
            self.models_available,
            self.price_changes,
        )

    def _every_catalog(self) -> list[dict[str, str]]:
        return [{"catalog": name} for name in self.catalogs] or [{}]

    def _labels(self, catalog: str | None) -> dict[str, str]:
        if not self.catalogs:
            return {}
        if catalog is None:
            raise ValueError("these metrics are by catalog: name the catalog")
        return {"catalog": catalog}

    @staticmethod
    def _series(metric: Any, labels: dict[str, str]) -> Any:
        return metric.labels(**labels) if labels else metric

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, as the HTTP endpoint serves them."""
        return generate_latest(self.registry)

    def serve(
        self,
        port: int,
        address: str = "0.0.0.0",
        *,
        feed: FeedMaker | None = None,
    ) -> Callable[[], None]:
        """Serve ``/metrics`` (and ``/feed.xml`` when ``feed``, or this object's ``feed``,
        makes one) over HTTP from a daemon thread; returns a function that stops it.

        Raises OSError when the port cannot be bound."""
        application = _application(make_wsgi_app(self.registry), feed or self.feed)
        family, address = _family(address, port)
        server_class = type("Server", (_Server,), {"address_family": family})
        server: WSGIServer = make_server(address, port, application, server_class, _QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
        thread.start()

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per request: a slow feed never holds up a scrape."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: serve's log is its own."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _family(address: str, port: int) -> tuple[socket.AddressFamily, str]:
    """The address family to listen with (IPv6 for ``::``) and the address, as
    prometheus-client's own server chooses them."""
    infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


def _application(metrics: WSGIApp, feed: FeedMaker | None) -> WSGIApp:
    """``/feed.xml`` to ``feed``; every other path to prometheus-client, as before."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != FEED_PATH:
            return metrics(environ, start_response)
        status, headers, body = _feed_answer(environ, feed)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    return application


def _feed_answer(
    environ: dict[str, Any], feed: FeedMaker | None
) -> tuple[str, list[tuple[str, str]], bytes]:
    from etl.config import check_catalog_name
    from etl.read.catalogs import UnknownCatalog

    plain = [("Content-Type", "text/plain; charset=utf-8")]
    if feed is None:
        return "404 Not Found", plain, b"no feed: this serve publishes metrics only\n"
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return "405 Method Not Allowed", [*plain, ("Allow", "GET, HEAD")], b"GET only\n"
    try:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        catalogs = tuple(check_catalog_name(name) for name in query.get("catalog", []))
    except ValueError as error:  # not a catalog's name: nothing is looked up
        return "400 Bad Request", plain, f"{visible(str(error))}\n".encode()
    try:
        body = feed(catalogs)
    except UnknownCatalog as error:
        return "404 Not Found", plain, f"{error}\n".encode()
    except Exception as error:  # the database is down, a bug: the server must stay up
        from sqlalchemy.exc import SQLAlchemyError

        from etl.db.engine import describe_error

        reason = (
            f"database error: {describe_error(error)}"
            if isinstance(error, SQLAlchemyError)
            else f"{type(error).__name__}: {error}"
        )
        logger.error(
            "the feed could not be built: %s", reason, extra={"fields": {"event": "feed_failed"}}
        )
        return "503 Service Unavailable", plain, b"the feed could not be built; see the log\n"
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = [("Content-Type", FEED_TYPE), ("ETag", tag), ("Cache-Control", "no-cache")]
    if tag in (environ.get("HTTP_IF_NONE_MATCH") or ""):
        return "304 Not Modified", headers[1:], b""
    return "200 OK", headers, body
