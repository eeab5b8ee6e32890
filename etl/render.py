"""Kept for imports elsewhere: terminal output now lives in :mod:`etl.reports.terminal`."""

from etl.reports.terminal import models, print_json, runs, sync_result

__all__ = ["models", "print_json", "runs", "sync_result"]
