"""Rounding noise: a price that moves by less than one part in a million.

Gateways compute some prices in floating point and send the result as decimal text, so a
price of 0.00000003 USD per token comes back one day as ``0.0000000299999997`` and the next
as ``0.00000003``. The history stores both exactly (a change of the stored text is a change);
reports call such a step *rounding noise* and list it apart from the real price moves, unless
asked to include it (``--include-noise``).

A change is noise when both prices are amounts, the old one is not 0, and
``|new - old| < ROUNDING_NOISE_THRESHOLD * |old|``: compared exactly, in decimals, without a
division. A change to or from dynamic pricing, unpriced (None) or 0 is never noise.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact
from typing import Final

from etl.ingest.money import Price

ROUNDING_NOISE_THRESHOLD: Final = Decimal("0.000001")
"""A relative change smaller than this (one part in a million, 0.0001%) is rounding noise.

The real captures show float noise at about 1e-8 of the price (``0.0000000299999997`` for
``0.00000003``) and the smallest real move at 8e-3 (``0.00000025`` to ``0.000000252``):
the threshold sits well between them."""

_EXACT = Context(prec=1000, traps=[Inexact])
"""Prices are at most 64 characters of text: this precision keeps every step exact (and
would raise rather than round)."""


def is_rounding_noise(old: Price | None, new: Price | None) -> bool:
    """Whether a change from ``old`` to ``new`` is rounding noise (see the module)."""
    if not isinstance(old, Decimal) or not isinstance(new, Decimal):
        return False
    if old == 0 or new == 0 or old == new:
        return False
    difference = _EXACT.abs(_EXACT.subtract(new, old))
    return difference < _EXACT.multiply(ROUNDING_NOISE_THRESHOLD, _EXACT.abs(old))
