"""How a fetch is configured: :class:`FetchSettings`, and the setting that holds the token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from etl.ingest.decompress import DEFAULT_MAX_BYTES

TOKEN_SETTING = "CATALOG_ETL_API_TOKEN"


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
    max_bytes: int = DEFAULT_MAX_BYTES
    """Largest catalog accepted, all pages together, after content decoding."""
    allow_insecure_http: bool = False
    is_local: Callable[[str], bool] | None = None
    """Whether a host counts as this machine, where plain http:// is allowed (default:
    loopback names and addresses). For tests of the rule for other hosts."""
    max_pages: int = 1000
    token_source: str = TOKEN_SETTING
    """Where the token comes from, for the hint of a 401 or 403 (``serve --config``: the
    catalog's ``token_env`` variable or ``token_file``)."""

    def __post_init__(self) -> None:
        positive = ("connect_timeout", "read_timeout", "total_timeout", "max_bytes", "max_pages")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchSettings.{name} must be positive")
        for name in ("retries", "backoff_base", "backoff_max", "retry_after_cap"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"FetchSettings.{name} must not be negative")
