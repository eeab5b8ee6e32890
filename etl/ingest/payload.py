"""Raw bytes to JSON, exactly: strict UTF-8, text PostgreSQL cannot store (NUL, lone UTF-16
surrogates) repaired and counted.

Most payloads are parsed by orjson, several times faster than the standard library. Where a
JSON number is money (InsForge's ``inputPrice``/``outputPrice``, a pricing ``discount``) the
standard library parses instead, with numbers that have a fraction read as exact Decimals;
it also takes over whenever orjson refuses the bytes, to give its precise error or to read
lone surrogates, and for integers beyond 64 bits, which orjson would turn into floats.

A LiteLLM price map (its keys ``litellm_provider``, ``input_cost_per_token`` ...: see
:mod:`etl.ingest.litellm`) is parsed the exact way too, and its objects' repeated keys are
noted (:class:`DuplicateKey`): the last value wins, as with every JSON parser, but the shape
warns about it. Other payloads keep the last value of a repeated key silently, as before."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
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
    duplicate_keys: tuple[DuplicateKey, ...] = ()
    """Keys repeated inside one object (noted for LiteLLM price maps only)."""


@dataclass(frozen=True)
class DuplicateKey:
    """A key written more than once in one JSON object; the parsed object holds the last value."""

    key: str
    count: int
    identical: bool
    """Every copy has the same value (``3e-05`` and ``0.00003`` are the same number)."""
    top_level: bool
    """In the outermost object (a LiteLLM model name), not inside an entry."""


def read_payload(raw: bytes, *, sha256: str | None = None) -> Payload:
    """Decode and parse one catalog payload; raise :class:`PayloadError` with a one-line reason."""
    if not raw.strip():
        raise PayloadError("payload is empty")
    price_map = any(marker in raw for marker in PRICE_MAP_MARKERS)
    duplicates: tuple[DuplicateKey, ...] = ()
    document = _REFUSED if price_map else _fast_parse(raw)
    if document is _REFUSED:
        hook = _RepeatedKeys() if price_map else None
        document = _exact_parse(raw, hook)
        duplicates = hook.found() if hook is not None else ()
    repaired = 0
    if _SUSPECT_ESCAPE.search(raw):
        document, repaired = repair_text(document)
    digest = sha256 or hashlib.sha256(raw).hexdigest()
    return Payload(raw, document, digest, repaired, duplicates)


_REFUSED = object()
# Keys whose JSON numbers are money: their decimal text must be kept exactly.
_EXACT_NUMBER_KEYS = (b'"inputPrice"', b'"outputPrice"', b'"discount"')
PRICE_MAP_MARKERS = (b'"litellm_provider"', b'"input_cost_per_token"', b'"output_cost_per_token"')
"""Keys of a LiteLLM price map, as they appear in its bytes: every number of such a payload
is money or a count, read exactly, and its repeated keys are noted."""
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


def _exact_parse(raw: bytes, hook: _RepeatedKeys | None = None) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"payload is not valid UTF-8 (byte {error.start})") from None
    try:
        document = json.loads(
            text.removeprefix("\ufeff"),
            parse_float=Decimal,
            parse_constant=_not_json,
            object_pairs_hook=hook,
        )
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"payload is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise PayloadError("payload is nested too deeply to be a catalog") from None
    return document


class _RepeatedKeys:
    """``object_pairs_hook`` that builds each object as ``json`` does (the last value of a
    repeated key wins) and notes the repeated keys. Objects are closed innermost first, so
    the one closed last is the outermost."""

    def __init__(self) -> None:
        self.objects = 0
        self.repeats: list[tuple[int, str, int, bool]] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.objects += 1
        built = dict(pairs)
        if len(built) < len(pairs):
            values: dict[str, list[Any]] = defaultdict(list)
            for key, value in pairs:
                values[key].append(value)
            for key, copies in values.items():
                if len(copies) > 1:
                    same = all(_same(copies[0], other) for other in copies[1:])
                    self.repeats.append((self.objects, key, len(copies), same))
        return built

    def found(self) -> tuple[DuplicateKey, ...]:
        return tuple(
            DuplicateKey(key, count, same, top_level=index == self.objects)
            for index, key, count, same in self.repeats
        )


def _same(first: Any, second: Any) -> bool:
    """Equal JSON values: numbers by value (``0`` is ``0.0``), but ``true`` is not ``1``."""
    if isinstance(first, bool) or isinstance(second, bool):
        return type(first) is type(second) and first == second
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(
            _same(value, second[key]) for key, value in first.items()
        )
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(map(_same, first, second))
    if isinstance(first, dict | list) or isinstance(second, dict | list):
        return False
    return bool(first == second)


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
