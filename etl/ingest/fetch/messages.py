"""Upstream answers turned into one-line texts for error messages: the error code and
message of a JSON body, an HTML title, and the token scrubbed out of any text."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

UPSTREAM_TEXT_LIMIT = 200

_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_.:-]*")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _upstream_error(body: bytes, media: str) -> tuple[str | None, str | None]:
    """The error code and message an upstream put in its error answer, if any.

    Understands InSforge's ``{"error": "CODE", "message": ...}`` and older
    ``{"error": "text", "details": ...}``, OpenRouter's ``{"error": {"code", "message"}}``,
    ``{"message"}`` / ``{"detail"}`` bodies, HTML titles and plain text."""
    text = body.decode("utf-8", "replace").removeprefix("\ufeff").strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict):
            return _json_error(document)
    found = _upstream_text(body, media)
    return None, found


def _json_error(document: dict[str, Any]) -> tuple[str | None, str | None]:
    error = document.get("error")
    code: str | None = None
    message: str | None = None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = _string(error.get("message"))
    elif isinstance(error, str) and error.strip():
        if _ERROR_CODE.fullmatch(error.strip()):
            code = error.strip()
        else:
            message = error.strip()
    keys = ("message", "details", "detail", "title", "error_description")
    extra = next((text for key in keys if (text := _string(document.get(key)))), None)
    if message and extra and extra != message:
        message = f"{message}: {extra}"
    return code, message or extra


def _upstream_text(body: bytes, media: str) -> str | None:
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    if "html" in media or text[:15].lower().startswith(("<!doctype", "<html")):
        title = _HTML_TITLE.search(text)
        return _one_line(html.unescape(title.group(1)), UPSTREAM_TEXT_LIMIT) if title else None
    return _one_line(text, UPSTREAM_TEXT_LIMIT) or None


def _string(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _one_line(text: str, limit: int) -> str:
    """Text reduced to one printable line of at most ``limit`` characters."""
    flat = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _cause(error: Exception) -> str:
    return _one_line(str(error), UPSTREAM_TEXT_LIMIT) or type(error).__name__


def _timed_out(error: httpx.TimeoutException, timeout: httpx.Timeout) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return f"timed out connecting (after {timeout.connect:g} s)"
    if isinstance(error, httpx.ReadTimeout):
        return f"timed out waiting for the answer (nothing for {timeout.read:g} s)"
    if isinstance(error, httpx.WriteTimeout):
        return f"timed out sending the request (after {timeout.write:g} s)"
    if isinstance(error, httpx.PoolTimeout):
        return f"timed out waiting for a free connection (after {timeout.pool:g} s)"
    return "timed out"


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
