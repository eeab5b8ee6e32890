"""From validated model objects to plain, canonical records. Pure: no database, no I/O.

Two ideas carry the history's exactness:

* **Canonical values.** Lists of modalities, parameters and categories become sorted
  tuples, prices exact decimals, an empty ``instruct_type`` is null. Two payloads that say
  the same thing in a different representation give equal records and equal hashes.
* **Reported vs. unknown.** A record holds only the fields its payload reported. When it
  is applied (:func:`merge`), fields it did not report keep their last known value, so a
  gateway that sends less (InsForge's flat list has no names or context lengths) never
  erases what an earlier payload said.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import xxhash

from etl.ingest.money import (
    Price,
    PriceError,
    canonical,
    parse_price,
    per_million_to_unit,
    price_text,
)
from etl.ingest.shapes import RawRecord, Shape

if TYPE_CHECKING:
    from etl.ingest.schemas import FlatModelIn, ModelIn

SCALAR_FIELDS = (
    "name",
    "description",
    "created",
    "context_length",
    "canonical_slug",
    "hugging_face_id",
    "modality",
    "tokenizer",
    "instruct_type",
    "top_provider_context_length",
    "max_completion_tokens",
    "is_moderated",
    "priced",
    "pricing_discount",
    "pricing_overrides",
)
SET_FIELDS = ("input_modalities", "output_modalities", "supported_parameters", "categories")
TRACKED_FIELDS = (*SCALAR_FIELDS, *SET_FIELDS, "extra")

EMPTY_CONTENT: Mapping[str, Any] = {
    **dict.fromkeys(SCALAR_FIELDS),
    **{name: () for name in SET_FIELDS},
    "priced": False,
    "extra": {},
}

MAX_DEPTH = 64
"""Deepest nesting accepted in fields without a column; real catalogs nest 3 levels."""

NORMALIZATION_VERSION = 1
"""Part of every source hash: bump it when normalization changes what a record means, so
that every model is normalized afresh at its next sync."""

_TOP_LEVEL = (
    "name",
    "description",
    "created",
    "context_length",
    "canonical_slug",
    "hugging_face_id",
)
_ARCHITECTURE = ("modality", "tokenizer", "instruct_type")
_TOP_PROVIDER = {
    "context_length": "top_provider_context_length",
    "max_completion_tokens": "max_completion_tokens",
    "is_moderated": "is_moderated",
}


class RecordRejected(ValueError):
    """One model record cannot be used; the rest of the payload can."""


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One model as one payload reported it, canonical and hashable."""

    provider: str
    model: str
    fields: Mapping[str, Any]
    """The tracked fields this payload reported (see :data:`TRACKED_FIELDS`)."""
    extra: Mapping[str, Any] | None
    """Fields without a column, as plain JSON; None when the shape cannot carry any."""
    prices: Mapping[str, Price]
    """Price components: non-zero ones only, unless :attr:`prices_partial`."""
    extra_partial: bool = False
    """Extra keys update the previous ones instead of replacing them."""
    prices_partial: bool = False
    """Only the components listed are reported (zeros included); others keep their price."""
    source_hash: str = ""
    """Fingerprint of the raw record(s) this was built from (see :func:`source_hash`)."""

    @property
    def record_hash(self) -> str:
        """sha256 of the normalized content: equal hash, same record, whatever the spelling.
        Computed on demand: only a model listed more than once needs it."""
        content = [
            self.fields,
            self.extra,
            self.extra_partial,
            {k: price_text(v) for k, v in self.prices.items()},
            self.prices_partial,
        ]
        return canonical_hash(content)

    @property
    def vendor(self) -> str:
        return vendor_of(self.model, self.provider)


@dataclass(frozen=True, slots=True)
class ModelState:
    """Everything known about a model at one point in time."""

    content: Mapping[str, Any]
    """Every tracked field."""
    prices: Mapping[str, Price]
    """Components with a non-zero effective price; empty when free or unpriced."""

    @property
    def content_hash(self) -> str:
        """sha256 of the content, the same whether it was just parsed or read back from
        either database (see :func:`json_numbers`)."""
        content = dict(self.content)
        for name in _JSON_FIELDS:
            content[name] = json_numbers(content[name])
        return canonical_hash(content)


@dataclass
class Catalog:
    """A payload, validated and normalized."""

    shape: Shape
    providers: dict[str, bool]
    records: list[ModelRecord]
    listed_but_rejected: set[tuple[str, str]] = field(default_factory=set)
    """(provider, model) listed in the payload but unusable: still listed, state unchanged."""
    unchanged: set[tuple[str, str]] = field(default_factory=set)
    """(provider, model) whose raw record equals the one applied last: not even validated."""
    warnings: list[str] = field(default_factory=list)


def vendor_of(model: str, provider: str) -> str:
    """The author from the id prefix (``openai/gpt-4o`` -> ``openai``; ``~`` marks an alias)."""
    prefix, slash, _ = model.lstrip("~").partition("/")
    return prefix if slash and prefix else provider


def canonical_hash(value: Any) -> str:
    """sha256 of canonical JSON: key order and tuple/list spelling do not matter."""
    return hashlib.sha256(_json_bytes(value, sort_keys=True)).hexdigest()


def _json_bytes(value: Any, *, sort_keys: bool) -> bytes:
    """Compact JSON of ``value``, Decimals tagged (see :func:`_tagged`)."""
    try:
        return orjson.dumps(
            value, default=_tagged, option=orjson.OPT_SORT_KEYS if sort_keys else None
        )
    except TypeError:  # integers beyond 64 bits, which only the standard library writes
        text = json.dumps(value, default=_tagged, sort_keys=sort_keys, separators=(",", ":"))
        return text.encode()


def _tagged(value: Any) -> Any:
    # A number parsed as Decimal must not hash like the string of its digits.
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    raise TypeError(f"cannot hash {type(value).__name__}")


_JSON_FIELDS = ("extra", "pricing_overrides")
"""Fields kept in JSON columns, whose numbers a database may spell differently."""


def json_numbers(value: Any) -> Any:
    """``value`` with every number in one canonical form, for hashing: a number with an
    integral value is an integer (``1.0``, ``-0.0``, ``1e20`` -> ``1``, ``0``,
    ``100000000000000000000``), any other stays a float.

    PostgreSQL's ``jsonb`` stores numbers as decimals and gives ``1e20`` back as an integer
    and ``-0.0`` as ``0``; SQLite gives back the float that was written. Without this a model
    read back from PostgreSQL would look changed, and every sync would write a new version."""
    if isinstance(value, float):
        if value.is_integer():
            return int(Decimal(repr(value)))  # 1e300 is 10**300, not the binary float's digits
        return value
    if isinstance(value, list):
        return [json_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: json_numbers(item) for key, item in value.items()}
    return value


def source_hash(shape: Shape, copies: list[RawRecord]) -> str:
    """Fingerprint of a model's raw record(s) as received, with everything that shapes
    their meaning. Equal to the one stored for the model: the record is the same as the one
    applied last, so validating and normalizing it again would change nothing.

    XXH3-128, not sha256: twenty times faster, and a change day hashes every record. It
    guards against accidents, not forgery (the gateway is trusted for its content anyway);
    at 128 bits two different records of one model will not share a fingerprint by chance.

    Keys are hashed in the order received (twice as fast as sorting them): a payload that
    reorders its keys only costs a validation of each record, which then changes nothing."""
    categories = sorted({copy.category for copy in copies if copy.category is not None})
    value = [NORMALIZATION_VERSION, shape, categories, [copy.document for copy in copies]]
    try:
        text = _json_bytes(value, sort_keys=False)
    except RecursionError:
        return ""  # too deep to hash: normalization rejects it with the reason
    return xxhash.xxh3_128_hexdigest(text)


def plain_json(value: Any, depth: int = 0) -> Any:
    """Make a parsed value storable in a JSON column and equal to what comes back out:
    numbers with a fraction (parsed as Decimal) become floats, unless no float holds them.
    Values nested deeper than :data:`MAX_DEPTH` reject the record."""
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if as_float not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, list | dict) and depth >= MAX_DEPTH:
        raise RecordRejected(f"a field is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [plain_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: plain_json(item, depth + 1) for key, item in value.items()}
    return value


def _names(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(sorted(set(values or ())))


def normalize_model(
    model: ModelIn,
    provider: str,
    *,
    categories: list[str] | None = None,
    source_hash: str = "",
) -> ModelRecord:
    """A model object of OpenRouter's list or InsForge's categorized response.

    ``categories``: the lists it appeared in; without them they follow the output modalities.
    """
    reported = model.model_fields_set
    fields: dict[str, Any] = {name: getattr(model, name) for name in _TOP_LEVEL if name in reported}
    extra: dict[str, Any] = plain_json(dict(model.model_extra or {}))

    if "architecture" in reported:
        architecture = model.architecture
        if architecture is None:
            fields.update(dict.fromkeys(_ARCHITECTURE), input_modalities=(), output_modalities=())
        else:
            given = architecture.model_fields_set
            fields.update(
                {name: getattr(architecture, name) for name in _ARCHITECTURE if name in given}
            )
            if fields.get("instruct_type") == "":
                fields["instruct_type"] = None  # InsForge writes "" where OpenRouter sends null
            for name in ("input_modalities", "output_modalities"):
                if name in given:
                    fields[name] = _names(getattr(architecture, name))
            if architecture.model_extra:
                extra["architecture"] = plain_json(dict(architecture.model_extra))

    if "top_provider" in reported:
        top = model.top_provider
        given = top.model_fields_set if top else set(_TOP_PROVIDER)
        for source, target in _TOP_PROVIDER.items():
            if source in given:
                fields[target] = getattr(top, source) if top else None
        if top is not None and top.model_extra:
            extra["top_provider"] = plain_json(dict(top.model_extra))

    if "supported_parameters" in reported:
        fields["supported_parameters"] = _names(model.supported_parameters)
    if categories is not None:
        fields["categories"] = tuple(categories)
    elif "output_modalities" in fields:
        fields["categories"] = fields["output_modalities"]

    prices, pricing = _pricing(model.pricing)
    fields.update(pricing.pop("fields"))
    if pricing:
        extra["pricing"] = pricing
    return ModelRecord(provider, model.id, fields, extra, prices, source_hash=source_hash)


def _pricing(block: Mapping[str, Any] | None) -> tuple[dict[str, Price], dict[str, Any]]:
    """Split a pricing block into components (string values), discount, overrides and the rest."""
    if block is None:
        unpriced = {"priced": False, "pricing_discount": None, "pricing_overrides": None}
        return {}, {"fields": unpriced}
    prices: dict[str, Price] = {}
    others: dict[str, Any] = {}
    discount: str | None = None
    for key, value in block.items():
        if isinstance(value, str):
            try:
                price = parse_price(value)
            except PriceError as error:
                raise RecordRejected(f"pricing.{key}: {error}") from None
            if price != 0:  # inside a pricing block an absent component is "0"
                prices[key] = price
        elif key == "discount" and isinstance(value, int | Decimal) and not isinstance(value, bool):
            discount = canonical(Decimal(value))
        else:
            others[key] = plain_json(value)
    overrides = others.pop("overrides", None)
    fields = {"priced": True, "pricing_discount": discount, "pricing_overrides": overrides}
    return prices, {"fields": fields, **others}


def normalize_flat(model: FlatModelIn, provider: str, *, source_hash: str = "") -> ModelRecord:
    """A model of InsForge's flat list. It reports modalities and prompt/completion prices
    only; everything else keeps its last known value."""
    reported = model.model_fields_set
    fields: dict[str, Any] = {"priced": True}
    if "created" in reported:
        fields["created"] = model.created
    if "input_modality" in reported:
        fields["input_modalities"] = _names(model.input_modality)
    if "output_modality" in reported:
        fields["output_modalities"] = fields["categories"] = _names(model.output_modality)
    try:
        prices = {
            "prompt": per_million_to_unit(model.input_price),
            "completion": per_million_to_unit(model.output_price),
        }
    except PriceError as error:
        raise RecordRejected(f"inputPrice/outputPrice: {error}") from None
    extra: dict[str, Any] = plain_json(dict(model.model_extra or {}))
    if model.model_id is not None and model.model_id != model.id:
        extra["modelId"] = model.model_id
    return ModelRecord(
        provider,
        model.id,
        fields,
        extra,
        prices,
        extra_partial=True,
        prices_partial=True,
        source_hash=source_hash,
    )


def merge(previous: ModelState | None, record: ModelRecord) -> ModelState:
    """The model's state after ``record`` is applied on top of ``previous``."""
    base = previous.content if previous is not None else EMPTY_CONTENT
    content = {**base, **record.fields}
    if record.extra is not None:
        content["extra"] = (
            {**base["extra"], **record.extra} if record.extra_partial else dict(record.extra)
        )
    if not content["priced"]:
        return ModelState(content, {})
    components: dict[str, Price] = dict(record.prices)
    if record.prices_partial and previous is not None:
        components = {**previous.prices, **components}
    return ModelState(content, {k: v for k, v in components.items() if v != 0})
