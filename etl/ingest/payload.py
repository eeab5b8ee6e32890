"""Raw bytes to JSON, exactly: strict UTF-8, text PostgreSQL cannot store (NUL, lone UTF-16
surrogates) repaired and counted.

Most payloads are parsed by orjson, several times faster than the standard library. Where a
JSON number is money (InsForge's ``inputPrice``/``outputPrice``, a pricing ``discount``) the
standard library parses instead, with numbers that have a fraction read as exact Decimals;
it also takes over whenever orjson refuses the bytes, to give its precise error or to read
lone surrogates, and for integers beyond 64 bits, which orjson would turn into floats."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

REPLACEMENT = "\ufffd"
# Only payloads whose bytes contain one of these escapes can hold unstorable text, so the
# (slow) walk over every string runs only for them.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class PayloadError(ValueError):
    """The payload as a whole cannot be read; nothing from it may be applied."""


@dataclass(frozen=True)
class Payload:
    raw: bytes
    document: Any
    sha256: str
    repaired_strings: int
    """Strings that held NUL or lone surrogates, replaced by U+FFFD."""


def read_payload(raw: bytes, *, sha256: str | None = None) -> Payload:
    """Decode and parse one catalog payload; raise :class:`PayloadError` with a one-line reason."""
    if not raw.strip():
        raise PayloadError("payload is empty")
    document = _fast_parse(raw)
    if document is _REFUSED:
        document = _exact_parse(raw)
    repaired = 0
    if _SUSPECT_ESCAPE.search(raw):
        document, repaired = repair_text(document)
    return Payload(raw, document, sha256 or hashlib.sha256(raw).hexdigest(), repaired)


_REFUSED = object()
# Keys whose JSON numbers are money: their decimal text must be kept exactly.
_EXACT_NUMBER_KEYS = (b'"inputPrice"', b'"outputPrice"', b'"discount"')
# orjson reads integers outside [-2**63, 2**64) as floats, silently. Each has at least 19
# digits: where no run of 19 digits occurs (every digit mapped to "0" first: one fast pass
# over the bytes), none is there. A long digit run inside a string only costs the slow parse.
_ALL_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"0" * 9)
_NINETEEN_DIGITS = b"0" * 19


def _fast_parse(raw: bytes) -> Any:
    if any(key in raw for key in _EXACT_NUMBER_KEYS):
        return _REFUSED
    if _NINETEEN_DIGITS in raw.translate(_ALL_DIGITS_TO_ZERO):
        return _REFUSED
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _REFUSED


def _exact_parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"payload is not valid UTF-8 (byte {error.start})") from None
    try:
        document = json.loads(
            text.removeprefix("\ufeff"), parse_float=Decimal, parse_constant=_not_json
        )
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"payload is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise PayloadError("payload is nested too deeply to be a catalog") from None
    return document


def _not_json(literal: str) -> Any:
    # Python's json accepts these; JSON (RFC 8259) does not, and no database stores them.
    raise PayloadError(f"payload is not valid JSON: {literal} is not a JSON number")


def repair_text(value: Any) -> tuple[Any, int]:
    """Replace NUL and lone surrogates in every string (keys included) by U+FFFD."""
    count = 0

    def fix(item: Any) -> Any:
        nonlocal count
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                count += 1
                return _UNSTORABLE.sub(REPLACEMENT, item)
            return item
        if isinstance(item, list):
            return [fix(element) for element in item]
        if isinstance(item, dict):
            return {fix(key): fix(element) for key, element in item.items()}
        return item

    try:
        return fix(value), count
    except RecursionError:
        raise PayloadError("payload is nested too deeply to be a catalog") from None
