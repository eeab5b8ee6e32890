"""Prometheus metrics of `serve`: names, values, and the HTTP endpoint."""

from __future__ import annotations

import socket
import urllib.request

from etl.service.metrics import Metrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TestMetrics:
    def test_runs_are_counted_by_status(self) -> None:
        """Every status starts at 0; observed runs add to their status, duration and price
        changes."""
        metrics = Metrics()
        text = metrics.exposition().decode()
        for status in ("succeeded", "failed", "held", "skipped"):
            assert f'catalog_etl_sync_runs_total{{status="{status}"}} 0.0' in text
        metrics.observe_run("succeeded", 0.3, 4, ended=1_700_000_000)
        metrics.observe_run("skipped", 0.1, 0, ended=1_700_000_060)
        text = metrics.exposition().decode()
        assert 'catalog_etl_sync_runs_total{status="succeeded"} 1.0' in text
        assert 'catalog_etl_sync_runs_total{status="skipped"} 1.0' in text
        assert "catalog_etl_price_changes_total 4.0" in text
        assert "catalog_etl_sync_duration_seconds_count 2.0" in text
        assert "catalog_etl_last_run_timestamp_seconds 1.70000006e+09" in text

    def test_database_facts(self) -> None:
        """Last success and models available mirror the database; never is 0."""
        metrics = Metrics()
        metrics.observe_database(None, 0)
        assert "catalog_etl_last_success_timestamp_seconds 0.0" in metrics.exposition().decode()
        metrics.observe_database(1_700_000_000.5, 337)
        text = metrics.exposition().decode()
        assert "catalog_etl_last_success_timestamp_seconds 1.7000000005e+09" in text
        assert "catalog_etl_models_available 337.0" in text

    def test_http_endpoint(self) -> None:
        """serve() exposes /metrics over HTTP until stopped."""
        metrics = Metrics()
        port = free_port()
        stop = metrics.serve(port, "127.0.0.1")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                assert b"catalog_etl_models_available" in answer.read()
        finally:
            stop()
