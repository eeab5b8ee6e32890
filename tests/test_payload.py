"""Raw bytes to JSON: strict UTF-8, exact numbers, and unstorable text repaired and counted."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest

from etl.ingest.payload import REPLACEMENT, PayloadError, read_payload, repair_text
from tests.helpers import read_bytes


def all_strings(value: Any) -> list[str]:
    """Every string in a parsed document, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in all_strings(item)]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in [*all_strings(k), *all_strings(v)]]
    return []


class TestReadPayloadErrors:
    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            (b"", "empty"),  # empty body
            (b"  \r\n\t ", "empty"),  # blanks only
            (b'{"name": "caf\xe9"}', "UTF-8"),  # Latin-1 byte
            (b"\xff\xfe{\x00}\x00", "UTF-8"),  # UTF-16 with BOM
            (b'{"data": [', "JSON"),  # truncated
            (b"{'data': []}", "JSON"),  # single quotes
            (b'{"data": []} trailing', "JSON"),  # extra data
            (b"<html>502 Bad Gateway</html>", "JSON"),  # an error page
            (b"[" * 100_000 + b"]" * 100_000, "nested"),  # too deep
            (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested"),  # too deep, objects
        ],
    )
    def test_unreadable_payload_raises_one_line(self, raw, reason):
        """An empty, non-UTF-8, non-JSON or absurdly nested body raises a one-line PayloadError."""
        with pytest.raises(PayloadError) as raised:
            read_payload(raw)
        message = str(raised.value)
        assert reason in message
        assert "\n" not in message
        assert raised.value.__cause__ is None  # no chained traceback noise

    def test_payload_error_is_a_value_error(self):
        """PayloadError is a ValueError, so generic input-error handling catches it."""
        assert issubclass(PayloadError, ValueError)


class TestReadPayload:
    def test_keeps_raw_bytes_and_their_hash(self):
        """The payload keeps its exact bytes and their sha256."""
        raw = b'{"data": []}'
        result = read_payload(raw)
        assert result.raw == raw
        assert result.sha256 == hashlib.sha256(raw).hexdigest()
        assert result.document == {"data": []}
        assert result.repaired_strings == 0

    def test_byte_order_mark_is_accepted(self):
        """A UTF-8 byte order mark before the JSON is ignored (but stays in the raw bytes)."""
        raw = b'\xef\xbb\xbf{"data": [{"id": "a/b"}]}'
        result = read_payload(raw)
        assert result.document == {"data": [{"id": "a/b"}]}
        assert result.raw == raw
        assert result.sha256 == hashlib.sha256(raw).hexdigest()

    def test_numbers_with_a_fraction_are_decimal(self):
        """Numbers with a fraction parse as exact Decimal; integers stay int."""
        raw = b'{"inputPrice": 0.00000008333333333333334, "outputPrice": 2.50, "created": 17}'
        document = read_payload(raw).document
        assert document["inputPrice"] == Decimal("0.00000008333333333333334")
        assert isinstance(document["inputPrice"], Decimal)
        assert document["outputPrice"] == Decimal("2.50")
        assert document["created"] == 17
        assert isinstance(document["created"], int)

    @pytest.mark.parametrize(
        "number",
        [
            123456789012345678901234567890,
            2**64,  # one past orjson's largest
            -(2**63) - 1,  # one below its smallest
            2**64 - 1,  # the largest it reads exactly: either parser will do
        ],
    )
    def test_integers_beyond_64_bits_stay_exact(self, number):
        """An integer of any size parses as that very int, never as a float."""
        document = read_payload(b'{"data": [{"id": "a/b", "big": %d}]}' % number).document
        big = document["data"][0]["big"]
        assert big == number
        assert type(big) is int

    def test_clean_text_is_untouched(self):
        """Non-ASCII text that is valid stays exactly as sent, and nothing is counted."""
        raw = '{"name": "Qwen: 通义千问 ", "d": "caf\\u00e9 \\u2014 ok"}'.encode()
        result = read_payload(raw)
        assert result.document == {"name": "Qwen: 通义千问 ", "d": "café — ok"}
        assert result.repaired_strings == 0


class TestRepairUnstorableText:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (rb'{"d": "a\u0000b"}', {"d": f"a{REPLACEMENT}b"}),  # NUL
            (rb'{"d": "it\udc9ds"}', {"d": f"it{REPLACEMENT}s"}),  # lone low surrogate
            (rb'{"d": "x\uD83D"}', {"d": f"x{REPLACEMENT}"}),  # lone high surrogate, upper case
            (rb'{"d": "\ude00\ud83d"}', {"d": REPLACEMENT * 2}),  # pair in the wrong order
            (rb'{"k\u0000": 1}', {f"k{REPLACEMENT}": 1}),  # in a key
            (rb'[["deep", {"x": ["\udc9d"]}]]', [["deep", {"x": [REPLACEMENT]}]]),  # nested
        ],
    )
    def test_nul_and_lone_surrogates_become_replacement(self, raw, expected):
        """NUL and lone surrogates are replaced by U+FFFD and the string is counted."""
        result = read_payload(raw)
        assert result.document == expected
        assert result.repaired_strings == 1

    def test_counts_strings_not_characters(self):
        """repaired_strings counts each repaired string once, however many bad characters."""
        raw = rb'{"a": "\u0000\u0000\udc9d", "b": "\udc9d", "c": "fine"}'
        result = read_payload(raw)
        assert result.document == {"a": REPLACEMENT * 3, "b": REPLACEMENT, "c": "fine"}
        assert result.repaired_strings == 2

    def test_valid_surrogate_pair_is_untouched(self):
        """An escaped surrogate pair is one real character (an emoji) and is left alone."""
        result = read_payload(rb'{"name": "smile \ud83d\ude00"}')
        assert result.document == {"name": "smile \U0001f600"}
        assert result.repaired_strings == 0

    def test_escaped_backslash_is_not_an_escape(self):
        """The text \\u0000 written with an escaped backslash is six ordinary characters."""
        result = read_payload(rb'{"d": "\\u0000"}')
        assert result.document == {"d": "\\u0000"}
        assert result.repaired_strings == 0

    def test_raw_bytes_and_hash_are_not_repaired(self):
        """Repair changes the parsed document only; raw bytes and sha256 are what was sent."""
        raw = rb'{"d": "\u0000"}'
        result = read_payload(raw)
        assert result.raw == raw
        assert result.sha256 == hashlib.sha256(raw).hexdigest()

    def test_real_capture_with_lone_surrogates(self):
        """The 2025-06-19 capture holds lone surrogates; after repair every string is UTF-8."""
        result = read_payload(read_bytes("openrouter/2025-06-19_teatreechat.json.gz"))
        assert result.repaired_strings > 0
        strings = all_strings(result.document)
        for text in strings:
            text.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
            assert "\x00" not in text
        assert sum(REPLACEMENT in text for text in strings) >= result.repaired_strings
        assert len(result.document["data"]) == 323

    @pytest.mark.parametrize(
        "relative",
        ["openrouter/2025-07-24_lux-mcp.json.gz", "openrouter/2025-11-19_teatreechat.json.gz"],
    )
    def test_clean_real_captures_need_no_repair(self, relative):
        """A capture without unstorable text reports no repaired strings."""
        assert read_payload(read_bytes(relative)).repaired_strings == 0


class TestRepairText:
    def test_leaves_other_values_alone(self):
        """Numbers, booleans and null pass through repair unchanged."""
        value = {"a": [Decimal("0.1"), 3, True, None], "b": "ok\x00"}
        repaired, count = repair_text(value)
        assert repaired == {"a": [Decimal("0.1"), 3, True, None], "b": f"ok{REPLACEMENT}"}
        assert count == 1

    def test_too_deep_structure_is_a_payload_error(self):
        """A structure too deep to walk raises PayloadError, not RecursionError."""
        value: Any = "\x00"
        for _ in range(100_000):
            value = [value]
        with pytest.raises(PayloadError, match="nested"):
            repair_text(value)
