"""LiteLLM's price keys: which key is which price component, and what each is charged per.

LiteLLM names a price by what it costs and per what: ``input_cost_per_token``,
``output_cost_per_second_720p``, ``cache_read_input_token_cost_above_200k_tokens``. Nine of
them mean exactly what an OpenRouter component means and take its name
(:data:`COMMON_COMPONENTS`); every other one is a component under its own name, its unit read
from the name (:func:`price_unit`).

A top-level key is a price when it matches :data:`PRICE_KEY` and its value is a JSON number;
it stays in ``extra`` as sent when it is not a number (the nested ``search_context_cost_per_query``
and ``guardrail_cost_per_unit`` objects), when it counts Databricks units rather than dollars
(``input_dbu_cost_per_token``: the entry's ``input_cost_per_token`` holds the dollars), or when
its name is longer than the 64 characters a component name may have (six ``*_above_12hr_above_
272k_tokens_priority``-like keys of 2026; stored in the table as anything else would fail on
PostgreSQL).
"""

from __future__ import annotations

import functools
import re
from typing import Final

COMMON_COMPONENTS: Final = {
    "input_cost_per_token": "prompt",
    "output_cost_per_token": "completion",
    "cache_read_input_token_cost": "input_cache_read",
    "cache_creation_input_token_cost": "input_cache_write",
    "output_cost_per_reasoning_token": "internal_reasoning",
    "input_cost_per_audio_token": "audio",
    "cache_read_input_audio_token_cost": "input_audio_cache",
    "input_cost_per_request": "request",
    "input_cost_per_image": "image",
}
"""LiteLLM keys whose meaning is that of an OpenRouter component, and that component."""

PRICE_KEY: Final = re.compile(r"(?:^|_)cost_per_|_token_cost(?:_|$)")
"""``*_cost_per_*``, ``cost_per_*`` and ``*_token_cost*``: the names of LiteLLM's prices."""

MAX_COMPONENT_LENGTH: Final = 64
"""Width of ``prices.component``."""

_NOT_DOLLARS = re.compile(r"_dbu?_cost_")
UNIT_PREFIXES: Final = (
    (("1k_tokens",), "1k tokens"),
    (("1k_calls",), "1k calls"),
    (("gb_per_day",), "GB-day"),
    (("token", "audio_token", "image_token", "video_token", "reasoning_token"), "token"),
    (
        (
            "second",
            "per_second",
            "audio_second",
            "audio_per_second",
            "video_second",
            "video_per_second",
        ),
        "second",
    ),
    (("text_message",), "message"),
    (
        (
            "character",
            "image",
            "pixel",
            "query",
            "request",
            "page",
            "credit",
            "session",
            "unit",
        ),
        "",
    ),
)
"""How what follows ``cost_per_`` in a key starts, and the unit it names (``""``: the
prefix itself); the first rule that matches wins. A key without ``cost_per_``
(``cache_read_input_token_cost``...) is per token. The analyst views read units by the
same table (:mod:`etl.db.views`): a change here changes their SQL, so it ships with a new
revision that creates them again."""


def component_name(key: str) -> str | None:
    """The component a numeric top-level key is stored as, or None when it is not a price
    column (not a price name, not in dollars, or too long a name).

    >>> component_name("input_cost_per_token"), component_name("output_cost_per_second_720p")
    ('prompt', 'output_cost_per_second_720p')
    """
    common = COMMON_COMPONENTS.get(key)
    if common is not None:
        return common
    if not PRICE_KEY.search(key) or _NOT_DOLLARS.search(key):
        return None
    return key if len(key) <= MAX_COMPONENT_LENGTH else None


@functools.lru_cache(maxsize=4096)
def price_unit(component: str) -> str | None:
    """What a LiteLLM-named component is charged per: ``token``, ``second``, ``image``,
    ``character``, ``pixel``, ``query``, ``request``, ``page``, ``credit``, ``session``,
    ``message``, ``1k tokens``, ``1k calls``, ``GB-day`` or ``unit``; None for a name that is
    not a LiteLLM price name (an OpenRouter component).

    >>> price_unit("input_cost_per_token_above_200k_tokens"), price_unit("cost_per_second")
    ('token', 'second')
    >>> price_unit("computer_use_input_cost_per_1k_tokens"), price_unit("prompt") is None
    ('1k tokens', True)
    """
    if not PRICE_KEY.search(component):
        return None
    _, per, rest = component.partition("cost_per_")
    if not per:
        return "token"  # cache_read_input_token_cost, cache_creation_input_audio_token_cost...
    for prefixes, name in UNIT_PREFIXES:
        for prefix in prefixes:
            if rest.startswith(prefix):
                return name or prefix
    return "unit"
