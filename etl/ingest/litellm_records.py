"""One entry of LiteLLM's price map to a canonical record. Pure: no database, no I/O.

What becomes what (README, "LiteLLM's price map", says the same):

* ``max_input_tokens`` -> ``context_length``, ``max_output_tokens`` -> ``max_completion_tokens``
  (whole numbers; ``2000000.0`` is ``2000000``). The legacy ``max_tokens``, whose meaning
  changed over the releases, stays in ``extra``.
* ``mode`` -> the model's one category (``chat``, ``embedding``, ``image_generation`` ...),
  as InsForge's ``text``/``image`` lists are categories.
* ``supports_*`` flags that are ``true`` -> supported parameters, named as sent
  (``supports_vision``); a flag that is ``false`` (or not a boolean) stays in ``extra`` as sent.
  So flag true, parameter listed; anything else, in ``extra``: nothing is lost.
* ``supported_modalities`` / ``supported_output_modalities`` -> input / output modalities.
* prices: every top-level number under a price name (:mod:`etl.ingest.litellm_prices`), exact.
  An entry with at least one is priced (a price it does not list is 0, as in an OpenRouter
  pricing block); an entry with none is unpriced (NULL), whatever it nests.
* everything else, nested price structures included (``tiered_pricing``,
  ``search_context_cost_per_query``, ``off_peak_pricing``), -> ``extra`` as sent: whole
  numbers as integers, other numbers as floats (LiteLLM writes its numbers from Python floats,
  so each float gives back the digits sent).

Each release lists each entry in full, so a field an entry no longer has is cleared (null or
empty), not kept from an earlier release. A field of the wrong type (a context length that is
text, a negative price other than ``-1``) rejects the entry with a warning, as for other shapes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from etl.ingest.litellm import ENTRY_KEY
from etl.ingest.litellm_prices import component_name
from etl.ingest.money import Price, PriceError, number_price
from etl.ingest.normalize import ModelRecord, RecordRejected, json_numbers, plain_json
from etl.ingest.schemas import BIGINT_MAX, check_model_id

_LIMITS = {"max_input_tokens": "context_length", "max_output_tokens": "max_completion_tokens"}
_MODALITIES = {
    "supported_modalities": "input_modalities",
    "supported_output_modalities": "output_modalities",
}
_FLAG_PREFIX = "supports_"
_MAX_NAME = 255


def normalize_price_map_entry(
    document: dict[str, Any], provider: str, *, source_hash: str = ""
) -> ModelRecord:
    """The record of one ``{"id": key, "entry": value}`` document (:mod:`etl.ingest.litellm`)."""
    try:
        model = check_model_id(document["id"])
    except ValueError as error:
        raise RecordRejected(f"id: {error}") from None
    entry: dict[str, Any] = document[ENTRY_KEY]
    fields: dict[str, Any] = {
        target: _count(source, entry.get(source)) for source, target in _LIMITS.items()
    }
    extra: dict[str, Any] = {}
    prices: dict[str, Price] = {}
    flags: list[str] = []
    categories: tuple[str, ...] = ()
    modalities: dict[str, tuple[str, ...]] = dict.fromkeys(_MODALITIES.values(), ())
    for key, value in entry.items():
        if key in _LIMITS or key == "litellm_provider":
            continue
        if key == "mode" and isinstance(value, str) and value:
            categories = (_name(key, value),)
        elif key in _MODALITIES and _names_list(value):
            modalities[_MODALITIES[key]] = tuple(sorted({_name(key, item) for item in value}))
        elif key.startswith(_FLAG_PREFIX) and value is True:
            flags.append(_name(key, key))
        elif (component := _price_component(key, value)) is not None:
            prices[component] = _price(key, value)
        else:
            extra[key] = json_numbers(plain_json(value))
    fields.update(modalities)
    fields.update(
        categories=categories,
        supported_parameters=tuple(sorted(flags)),
        priced=bool(prices),
    )
    nonzero = {component: price for component, price in prices.items() if price != 0}
    return ModelRecord(provider, model, fields, extra, nonzero, source_hash=source_hash)


def _count(key: str, value: Any) -> int | None:
    """A token limit: a whole number (``2000000.0`` included), or None when absent."""
    if value is None:
        return None
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BIGINT_MAX:
        raise RecordRejected(f"{key}: must be a whole number of tokens, got {value!r}")
    return value


def _price_component(key: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return component_name(key)


def _price(key: str, value: Any) -> Price:
    try:
        return number_price(value)
    except PriceError as error:
        raise RecordRejected(f"{key}: {error}") from None


def _names_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _name(key: str, value: str) -> str:
    if len(value) > _MAX_NAME:
        raise RecordRejected(f"{key}: longer than {_MAX_NAME} characters")
    return value
