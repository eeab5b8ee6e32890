"""Fetch a catalog over HTTP: the exact bytes of every page, bounded retries, no leaked token.

:func:`fetch_catalog` is the entry point (:mod:`.client`). The package may import only its
``etl.ingest`` siblings and the shared modules ``etl.errors``, ``etl.times``, ``etl.config``
and ``etl.version``.
"""

from etl.ingest.fetch.body import ERROR_BODY_LIMIT
from etl.ingest.fetch.client import USER_AGENT, FetchResult, fetch_catalog
from etl.ingest.fetch.errors import (
    BadContentError,
    FetchError,
    InsecureURLError,
    InvalidRequestError,
    TransportError,
    UpstreamHTTPError,
)
from etl.ingest.fetch.messages import UPSTREAM_TEXT_LIMIT
from etl.ingest.fetch.retry import RETRY_STATUSES, TERMINAL_5XX
from etl.ingest.fetch.settings import TOKEN_SETTING, FetchSettings
from etl.ingest.fetch.urls import safe_url

__all__ = [
    "ERROR_BODY_LIMIT",
    "RETRY_STATUSES",
    "TERMINAL_5XX",
    "TOKEN_SETTING",
    "UPSTREAM_TEXT_LIMIT",
    "USER_AGENT",
    "BadContentError",
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "InsecureURLError",
    "InvalidRequestError",
    "TransportError",
    "UpstreamHTTPError",
    "fetch_catalog",
    "safe_url",
]
