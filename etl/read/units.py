"""What a price component is charged per, and the arithmetic reports do on prices.

Everything here is exact :class:`~decimal.Decimal` arithmetic; rounding happens only in
the ``*_text`` helpers, the last step before a value is shown.

OpenRouter's components and their units (as its API documents them):

* per token: ``prompt``, ``completion``, ``internal_reasoning``, ``input_cache_read``,
  ``input_cache_write``, ``audio`` and ``input_audio_cache`` (audio tokens). Reports show
  these per 1M tokens as well, the unit people quote.
* ``request`` per request, ``image`` per input image, ``web_search`` per search. These are
  shown per unit only.

LiteLLM's price map maps nine of its keys onto the components above and keeps every other
price under its own name, whose unit the name says (:func:`etl.ingest.litellm_prices.price_unit`):
``input_cost_per_token_above_200k_tokens`` and ``cache_read_input_token_cost_batches`` per
token (shown per 1M tokens too), ``output_cost_per_second_720p`` per second,
``output_cost_per_image_1024`` per image, ``input_cost_per_character`` per character, and so
on (``pixel``, ``query``, ``page``, ``credit``, ``session``, ``message``, ``1k tokens``,
``1k calls``, ``GB-day``). Any other component is shown per ``unit``, as stored.

The analyst views of revision 0007 read the same units from the names in SQL
(:mod:`etl.db.views`; a test holds the two equal).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from etl.ingest.litellm_prices import price_unit
from etl.ingest.money import Price, canonical, price_text

TOKEN_COMPONENTS: Final = (
    "prompt",
    "completion",
    "internal_reasoning",
    "input_cache_read",
    "input_cache_write",
    "audio",
    "input_audio_cache",
)
"""Components priced per token, in the order reports show them."""

_OTHER_UNITS: Final = {"request": "request", "image": "image", "web_search": "search"}
_MILLION_EXPONENT = 6
_HUNDREDTH = Decimal("0.01")


def unit(component: str) -> str:
    """``token``, ``request``, ``image``, ``search``, a LiteLLM component's unit (``second``,
    ``character`` ...), or ``unit`` for a component not known."""
    if component in TOKEN_COMPONENTS:
        return "token"
    known = _OTHER_UNITS.get(component)
    if known is not None:
        return known
    return price_unit(component) or "unit"


def component_order(component: str) -> tuple[int, str]:
    """Sort key: token components in their usual order, then the others by name."""
    if component in TOKEN_COMPONENTS:
        return (TOKEN_COMPONENTS.index(component), component)
    return (len(TOKEN_COMPONENTS), component)


def per_million(price: Price | None, component: str) -> Decimal | None:
    """USD per 1M tokens, exactly; None for dynamic, unpriced or non-token components.

    The exponent is shifted by hand: multiplying would round to the context precision.

    >>> per_million(Decimal("0.00000008333333333333334"), "prompt")
    Decimal('0.08333333333333334')
    """
    if not isinstance(price, Decimal) or unit(component) != "token":
        return None
    sign, digits, exponent = price.as_tuple()
    assert isinstance(exponent, int)  # stored prices are finite
    return Decimal((sign, digits, exponent + _MILLION_EXPONENT))


def change_percent(old: Price | None, new: Price | None) -> Decimal | None:
    """The relative change in percent; None when it has no finite value (from 0, dynamic,
    unpriced)."""
    if not isinstance(old, Decimal) or not isinstance(new, Decimal) or old == 0:
        return None
    return (new - old) * 100 / old


def price_value_text(price: Price | None) -> str | None:
    """A price per unit as JSON shows it: exact decimal text, ``"dynamic"``, or None."""
    return None if price is None else price_text(price)


def decimal_text(amount: Decimal | None) -> str | None:
    """An exact amount as canonical decimal text (no exponent, no trailing zeros)."""
    return None if amount is None else canonical(amount)


def percent_text(percent: Decimal | None) -> str | None:
    """A percentage rounded half up to two places, trailing zeros dropped: ``"-33.33"``."""
    if percent is None:
        return None
    return canonical(percent.quantize(_HUNDREDTH, rounding=ROUND_HALF_UP))
