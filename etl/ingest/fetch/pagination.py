"""Pagination: whether page 1 is one page of a paginated list, where the next page is
(``links.next``, or ``total_count`` with offset and limit), and the pages joined into one."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from etl.ingest.fetch.body import _BOM
from etl.ingest.fetch.errors import BadContentError
from etl.ingest.fetch.messages import _one_line
from etl.ingest.fetch.settings import FetchSettings
from etl.ingest.fetch.urls import _check_secure, _origin
from etl.ingest.shapes import PAGES_KEY


def _paginated(body: bytes) -> dict[str, Any] | None:
    """Page 1 parsed, if it is one page of an OpenRouter-style paginated list."""
    if b'"links"' not in body and b'"total_count"' not in body:
        return None
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None  # Not JSON after all: the pipeline reports it, with the bytes archived.
    if (
        isinstance(document, dict)
        and isinstance(document.get("data"), list)
        and ("links" in document or "total_count" in document)
    ):
        return document
    return None


def _next_page(
    document: dict[str, Any],
    where: httpx.URL,
    received: int,
    size: int,
    *,
    start: httpx.URL,
    status: int,
    settings: FetchSettings,
    show: Callable[[httpx.URL | str], str],
) -> httpx.URL | None:
    """The URL of the page after ``document`` (fetched from ``where``), or None if it is the
    last. ``start`` is the URL the fetch began with, ``status`` that of the last answer."""
    links = document.get("links")
    link = links.get("next") if isinstance(links, dict) else None
    if isinstance(link, str) and link.strip():
        try:
            following = where.join(link.strip())
        except httpx.InvalidURL as error:
            raise BadContentError(
                f"GET {show(where)} gave a next-page link that is not a URL: {error}",
                http_status=status,
            ) from None
        if following.scheme not in ("http", "https") or not following.host:
            raise BadContentError(
                f"GET {show(where)} gave a next-page link that is not an http(s) URL:"
                f" {show(following)}",
                http_status=status,
            )
        _check_secure(following, show(start), settings, "next-page link")
        if _origin(following) != _origin(start):
            raise BadContentError(
                f"GET {show(where)} gave a next-page link to another origin,"
                f" {show(following)}: refused (a catalog's pages come from where it does)",
                http_status=status,
            )
        return following
    if link is not None and not isinstance(link, str):
        raise BadContentError(
            f"GET {show(where)} gave links.next that is not a URL: {_one_line(repr(link), 60)}",
            http_status=status,
        )
    total = document.get("total_count")
    if isinstance(total, int) and not isinstance(total, bool) and total > received:
        if len(document["data"]) == 0:
            raise BadContentError(
                f"GET {show(where)} returned no models although total_count says"
                f" {total} and {received} arrived",
                http_status=status,
            )
        return start.copy_set_param("offset", str(received)).copy_set_param("limit", str(size))
    return None


def _parse_page(body: bytes, number: int, shown: str, status: int) -> dict[str, Any]:
    """Page ``number`` (after page 1) parsed; it must be a JSON object with a data list."""
    try:
        document = json.loads(body, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise BadContentError(
            f"page {number} ({shown}) is not valid JSON: {error.msg} at line"
            f" {error.lineno} column {error.colno}",
            http_status=status,
        ) from None
    except (ValueError, RecursionError):
        raise BadContentError(
            f"page {number} ({shown}) is not readable JSON",
            http_status=status,
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise BadContentError(
            f"page {number} ({shown}) has no data list",
            http_status=status,
        )
    return document


def _join_pages(pages: list[bytes]) -> bytes:
    """The only page as it is, or every page in one document (see :mod:`etl.ingest.shapes`)."""
    if len(pages) == 1:
        return pages[0]
    # Exact page bytes (less any BOM, which would break the splice) in one document.
    joined = b",".join(page.removeprefix(_BOM) for page in pages)
    return f'{{"{PAGES_KEY}":['.encode() + joined + b"]}"
