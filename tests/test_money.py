"""Exact prices: parsing, the dynamic marker, per-1M conversion and the canonical text form."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.ingest.money import (
    DYNAMIC,
    PriceError,
    canonical,
    parse_price,
    per_million_to_unit,
    price_text,
)

# Finite non-negative decimals built from a coefficient and an exponent, so trailing zeros,
# positive exponents and more digits than the default context precision (28) all occur.
DECIMALS = st.builds(
    lambda coefficient, exponent: Decimal(f"{coefficient}E{exponent}"),
    st.one_of(st.integers(0, 10**6), st.integers(10**27, 10**40)),  # short and very long
    st.integers(-40, 12),
)


class TestParsePrice:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("0.00000008333333333333334", Decimal("0.00000008333333333333334")),  # > float digits
            ("0.0000030", Decimal("0.000003")),  # trailing zero
            ("0", Decimal(0)),  # free
            ("15", Decimal(15)),  # whole dollars
            ("0.01", Decimal("0.01")),  # web search per request
        ],
    )
    def test_parses_exact_decimal(self, text, expected):
        """A decimal price string becomes the exact Decimal it spells."""
        price = parse_price(text)
        assert isinstance(price, Decimal)
        assert price == expected

    def test_long_price_survives_exactly(self):
        """ "0.00000008333333333333334" keeps every digit (a float would not)."""
        text = "0.00000008333333333333334"
        price = parse_price(text)
        assert isinstance(price, Decimal)
        assert price == Decimal(text)
        assert price.as_tuple().digits == tuple(int(c) for c in "8333333333333334")
        assert canonical(price) == text

    def test_minus_one_is_dynamic(self):
        """A price of "-1" means dynamic pricing, not a negative amount."""
        assert parse_price("-1") == DYNAMIC

    @pytest.mark.parametrize(
        "text",
        [
            "-0.5",  # negative, not the dynamic marker
            "-2",  # negative whole number
            "-0.000001",  # tiny negative
            "NaN",
            "nan",
            "sNaN",  # signalling NaN
            "Infinity",
            "-Infinity",
            "inf",
            "abc",
            "",
            "1,5",  # decimal comma
            "$0.01",  # currency sign
        ],
    )
    def test_rejects_non_prices(self, text):
        """Negative amounts (other than -1), NaN, infinities and non-numbers raise PriceError."""
        with pytest.raises(PriceError):
            parse_price(text)

    @pytest.mark.parametrize(
        "value",
        [0, 1, 0.5, Decimal("0.5"), None, True, ["0.1"], {"amount": "0.1"}],
    )
    def test_rejects_non_strings(self, value):
        """Only strings are price text: numbers, None, bools and containers raise PriceError."""
        with pytest.raises(PriceError):
            parse_price(value)

    @pytest.mark.parametrize(
        "text",
        ["0." + "0" * 200 + "1", "1" * 10_000, " " * 100 + "1"],
    )
    def test_rejects_absurdly_long_strings(self, text):
        """A price string hundreds of characters long is refused, not parsed."""
        with pytest.raises(PriceError, match="characters long"):
            parse_price(text)

    def test_equal_prices_in_different_spelling(self):
        """ "0.0000030" and "0.000003" are the same price with the same canonical text."""
        a, b = parse_price("0.0000030"), parse_price("0.000003")
        assert a == b
        assert canonical(a) == canonical(b) == "0.000003"

    def test_price_error_is_a_value_error(self):
        """PriceError is a ValueError, so generic input-error handling catches it."""
        assert issubclass(PriceError, ValueError)

    @given(DECIMALS)
    def test_canonical_text_parses_back(self, amount):
        """Any canonical price text parses back to the same amount."""
        assert parse_price(canonical(amount)) == amount


class TestPerMillionToUnit:
    @pytest.mark.parametrize(
        ("per_million", "per_token"),
        [
            (Decimal("0.5"), "0.0000005"),
            (Decimal("1.5"), "0.0000015"),
            (3, "0.000003"),  # JSON integer
            (Decimal("0.083333"), "0.000000083333"),  # six places, as InsForge rounds
            (Decimal("2.50"), "0.0000025"),  # trailing zero
            (Decimal("1E+1"), "0.00001"),  # exponent form
            (0, "0"),  # free
        ],
    )
    def test_divides_exactly_by_a_million(self, per_million, per_token):
        """USD per 1M tokens becomes the exact USD per token."""
        result = per_million_to_unit(per_million)
        assert isinstance(result, Decimal)
        assert canonical(result) == per_token

    def test_reads_json_number_text(self):
        """A JSON number parsed with parse_float=Decimal converts without float rounding."""
        document = json.loads('{"inputPrice": 0.15, "outputPrice": 0.6}', parse_float=Decimal)
        assert canonical(per_million_to_unit(document["inputPrice"])) == "0.00000015"
        assert canonical(per_million_to_unit(document["outputPrice"])) == "0.0000006"

    def test_more_digits_than_context_precision_stay_exact(self):
        """A per-1M price with more than 28 significant digits is divided without rounding."""
        per_million = Decimal("0.12345678901234567890123456789012")
        result = per_million_to_unit(per_million)
        assert canonical(result) == "0.00000012345678901234567890123456789012"

    def test_minus_one_is_dynamic(self):
        """-1 per 1M tokens is the dynamic marker, not a negative amount."""
        assert per_million_to_unit(-1) == DYNAMIC
        assert per_million_to_unit(Decimal("-1")) == DYNAMIC

    @pytest.mark.parametrize(
        "value",
        [
            0.5,  # a float already lost the decimal text
            "0.5",  # strings are not JSON numbers
            True,  # bool is an int subclass but not a price
            None,
            Decimal("NaN"),
            Decimal("Infinity"),
            Decimal("-0.5"),  # negative
            -3,  # negative integer
        ],
    )
    def test_rejects_non_prices(self, value):
        """Floats, strings, bools, None, non-finite and negative numbers raise PriceError."""
        with pytest.raises(PriceError):
            per_million_to_unit(value)

    @given(DECIMALS)
    def test_is_exact(self, per_million):
        """per_million_to_unit(x) * 1,000,000 == x exactly, for any non-negative decimal."""
        result = per_million_to_unit(per_million)
        assert isinstance(result, Decimal)
        with localcontext() as context:
            context.prec = 200
            assert result * 1_000_000 == per_million


class TestCanonical:
    @pytest.mark.parametrize(
        ("amount", "text"),
        [
            ("0.0000030", "0.000003"),  # trailing zeros dropped
            ("1E+1", "10"),  # no exponent
            ("1.00E+2", "100"),
            ("100", "100"),  # integer zeros are digits, not trailing fraction zeros
            ("1.500", "1.5"),
            ("12.0", "12"),  # no dangling point
            ("8.333E-8", "0.00000008333"),
            ("0.00000008333333333333334", "0.00000008333333333333334"),
            ("0", "0"),
            ("0.000", "0"),  # zero with a fraction
            ("0E-10", "0"),
            ("0E+5", "0"),
            ("-0.0", "0"),  # negative zero
        ],
    )
    def test_canonical_form(self, amount, text):
        """canonical() writes no exponent, no trailing zeros, and "0" for any zero."""
        assert canonical(Decimal(amount)) == text

    def test_never_rounds_under_low_precision(self):
        """canonical() keeps every digit even when the Decimal context precision is small."""
        with localcontext() as context:
            context.prec = 3
            assert canonical(Decimal("0.00000008333333333333334")) == "0.00000008333333333333334"
            assert canonical(Decimal("123456789E+3")) == "123456789000"

    @given(DECIMALS)
    def test_round_trips_exactly(self, amount):
        """Decimal(canonical(d)) == d, with no exponent and no trailing zeros."""
        text = canonical(amount)
        assert Decimal(text) == amount
        assert "e" not in text.lower()
        if "." in text:
            assert not text.endswith("0")
            assert not text.endswith(".")
        if amount == 0:
            assert text == "0"

    @given(DECIMALS, st.integers(1, 10))
    def test_equal_amounts_share_one_text(self, amount, extra_zeros):
        """The same amount written with more trailing zeros has the same canonical text."""
        sign, digits, exponent = amount.as_tuple()
        padded = Decimal((sign, (*digits, *([0] * extra_zeros)), exponent - extra_zeros))
        assert padded == amount
        assert canonical(padded) == canonical(amount)

    @given(DECIMALS)
    def test_is_idempotent(self, amount):
        """Canonicalising canonical text again changes nothing."""
        text = canonical(amount)
        assert canonical(Decimal(text)) == text


class TestPriceText:
    def test_amount_is_canonical(self):
        """An amount is shown in its canonical decimal form."""
        assert price_text(Decimal("0.0000030")) == "0.000003"

    def test_dynamic_is_named(self):
        """The dynamic marker is shown as "dynamic"."""
        assert price_text(DYNAMIC) == "dynamic"
