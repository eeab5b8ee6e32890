"""Exact prices.

Upstream catalogs send prices as decimal strings in USD per unit (token, request,
image ...). They are parsed as :class:`~decimal.Decimal`, never as floats, and written
back in one canonical text form, so ``"0.0000030"`` and ``"0.000003"`` are the same
price and ``"0.00000008333333333333334"`` survives every round trip.

``"-1"`` is not a negative price: it marks dynamic (router) pricing, held here as the
:data:`DYNAMIC` marker.
"""

from __future__ import annotations

import functools
import re
from decimal import Context, Decimal
from typing import Final, Literal

DYNAMIC: Final = "dynamic"
"""Marker for a component whose price is decided per request (sent as ``"-1"``)."""

Price = Decimal | Literal["dynamic"]
"""A parsed price component: an exact non-negative amount, or :data:`DYNAMIC`."""

_DECIMAL_TEXT = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_MAX_PRICE_TEXT = 64  # longer strings are not prices; refusing them keeps hostile input cheap
_MINUS_ONE = Decimal(-1)
_PER_MILLION_EXPONENT = -6
_EXACT = Context(prec=10_000)  # normalize() rounds to the context's precision: make it moot


class PriceError(ValueError):
    """A price value that cannot be read as an exact, non-negative amount."""


def parse_price(value: object) -> Price:
    """Read one price component as sent upstream (a catalog repeats a few hundred distinct
    price strings thousands of times: they are parsed once).

    >>> parse_price("0.0000030")
    Decimal('0.0000030')
    >>> parse_price("-1")
    'dynamic'
    """
    if not isinstance(value, str):
        raise PriceError(f"price must be a decimal string, got {type(value).__name__}")
    return _parse_price_text(value)


@functools.lru_cache(maxsize=16_384)
def _parse_price_text(value: str) -> Price:
    if len(value) > _MAX_PRICE_TEXT:
        raise PriceError(f"price string is {len(value)} characters long")
    # Decimal() alone would also take "1_000", " 1 " and "NaN".
    if not _DECIMAL_TEXT.match(value):
        raise PriceError(f"price {value!r} is not a decimal number")
    return _checked(Decimal(value), value)


def number_price(value: object) -> Price:
    """Read a price sent as a JSON number in USD per unit (LiteLLM's price map), exactly.

    The number must arrive as its decimal text (``json.loads(..., parse_float=Decimal)``), so
    ``3e-05`` and ``0.00003`` are the same amount and ``2.9999900000000002e-06`` keeps every
    digit; ``-1`` is dynamic pricing.

    >>> number_price(Decimal("3e-05")) == number_price(Decimal("0.00003")), number_price(-1)
    (True, 'dynamic')
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PriceError(f"price must be a number, got {type(value).__name__}")
    return _checked(Decimal(value), str(value))


def per_million_to_unit(value: object) -> Price:
    """Turn a JSON number in USD per 1M tokens into the exact price per token.

    The number must arrive as its decimal text (``json.loads(..., parse_float=Decimal)``);
    the division by 1,000,000 is a shift of the decimal exponent, so nothing is rounded.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PriceError(f"price per 1M tokens must be a number, got {type(value).__name__}")
    amount = Decimal(value)
    checked = _checked(amount, str(value))
    if checked == DYNAMIC:
        return checked
    # Shift the exponent by hand: Decimal.scaleb rounds to the context precision (28 digits).
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite: checked above
    return Decimal((sign, digits, exponent + _PER_MILLION_EXPONENT))


def _checked(amount: Decimal, text: str) -> Price:
    if not amount.is_finite():
        raise PriceError(f"price {text!r} is not a finite number")
    if amount == _MINUS_ONE:
        return DYNAMIC
    if amount < 0:
        raise PriceError(f"price {text!r} is negative (only -1, dynamic pricing, is allowed)")
    return amount


@functools.lru_cache(maxsize=16_384)
def canonical(amount: Decimal) -> str:
    """The one text form of an amount: no exponent, no trailing zeros, ``"0"`` for zero.

    Unlike a plain :meth:`Decimal.normalize` this never rounds, whatever the amount's length.

    >>> canonical(Decimal("0.0000030")), canonical(Decimal("1E+1")), canonical(Decimal("-0.0"))
    ('0.000003', '10', '0')
    """
    if not amount:
        return "0"
    return format(amount.normalize(_EXACT), "f")


def price_text(price: Price) -> str:
    """A price as shown to people and written to JSON: canonical decimal or ``"dynamic"``."""
    return canonical(price) if isinstance(price, Decimal) else DYNAMIC
