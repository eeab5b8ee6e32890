"""Prometheus metrics of ``catalog-etl serve`` (``--metrics-port``), with prometheus-client.

Two kinds of numbers, on purpose:

* What the database says, refreshed after every sync and every heartbeat:
  ``catalog_etl_last_success_timestamp_seconds`` and ``catalog_etl_models_available``. With
  several replicas every one of them reports the same truth, so an alert on the age of the
  last success does not fire on a replica that merely lost the race for the lock.
* What this process did: ``catalog_etl_sync_runs_total{status}``,
  ``catalog_etl_sync_duration_seconds`` and ``catalog_etl_price_changes_total`` (counters
  restart at 0 with the process, as Prometheus expects).

Each :class:`Metrics` has its own registry, so tests and several services in one process
never collide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import start_http_server

RUN_STATUSES = ("succeeded", "failed", "held", "skipped")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        registry = self.registry
        self.last_success = Gauge(
            "catalog_etl_last_success_timestamp_seconds",
            "Unix time when the latest successful sync (by any process) finished; 0 if none.",
            registry=registry,
        )
        self.last_run = Gauge(
            "catalog_etl_last_run_timestamp_seconds",
            "Unix time when this process's latest sync attempt ended.",
            registry=registry,
        )
        self.duration = Histogram(
            "catalog_etl_sync_duration_seconds",
            "Duration of this process's sync attempts, fetch included.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.runs = Counter(
            "catalog_etl_sync_runs",
            "Sync attempts of this process, by final status (failed includes unrecorded ones).",
            ["status"],
            registry=registry,
        )
        for status in RUN_STATUSES:
            self.runs.labels(status=status)
        self.models_available = Gauge(
            "catalog_etl_models_available",
            "Models available now, according to the database.",
            registry=registry,
        )
        self.price_changes = Counter(
            "catalog_etl_price_changes",
            "Price changes written by this process's syncs.",
            registry=registry,
        )

    def observe_run(self, status: str, duration: float, price_changes: int, ended: float) -> None:
        """Count one sync attempt of this process (``ended``: Unix time)."""
        self.runs.labels(status=status).inc()
        self.duration.observe(duration)
        self.price_changes.inc(price_changes)
        self.last_run.set(ended)

    def observe_database(self, last_success: float | None, models_available: int) -> None:
        """What the database says now (``last_success``: Unix time, None if never)."""
        self.last_success.set(last_success or 0)
        self.models_available.set(models_available)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, as the HTTP endpoint serves them."""
        return generate_latest(self.registry)

    def serve(self, port: int, address: str = "0.0.0.0") -> Callable[[], None]:
        """Serve ``/metrics`` over HTTP from a daemon thread; returns a function that stops it.

        Raises OSError when the port cannot be bound."""
        server, thread = start_http_server(port, addr=address, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop
