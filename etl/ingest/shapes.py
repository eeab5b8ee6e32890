"""Recognise which catalog a payload is, and list its model records and providers.

Four shapes are known:

``insforge-categorized``
    InsForge's documented ``GET /api/ai/models``:
    ``{"text": [{"provider", "configured", "models": [...]}], "image": [...]}``.
    A model listed under several categories is one model with several categories.
``openrouter``
    OpenRouter's ``GET /api/v1/models``: ``{"data": [...]}`` or a bare array of the same
    model objects. The provider is not named in the payload (``openrouter`` by default).
``insforge-flat``
    InsForge's current flat array ``[{id, provider, inputModality, inputPrice, ...}]``.
``litellm``
    LiteLLM's ``model_prices_and_context_window.json``: ``{model: {litellm_provider, mode,
    input_cost_per_token, ...}}``, one provider per entry (see :mod:`etl.ingest.litellm`).

A paginated OpenRouter list fetched page by page is archived as
``{"catalog_etl_pages": [<page 1>, <page 2>, ...]}``: the exact bytes of every page, spliced
into one JSON document, read here as one ``openrouter`` catalog.

Anything else is a :class:`~etl.ingest.payload.PayloadError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from etl.ingest.litellm import duplicate_warnings, looks_like_price_map, split_entries
from etl.ingest.payload import Payload, PayloadError, read_payload

Shape = Literal["insforge-categorized", "openrouter", "insforge-flat", "litellm"]
DEFAULT_PROVIDER = "openrouter"
PAGES_KEY = "catalog_etl_pages"
_FLAT_MARKERS = frozenset({"modelId", "inputModality", "outputModality", "inputPrice"})


@dataclass(frozen=True)
class RawRecord:
    """One model object as found in the payload, with where it was found."""

    provider: str
    document: Any
    category: str | None = None
    """The category list it came from (categorized shape only)."""


@dataclass
class RawCatalog:
    shape: Shape
    records: list[RawRecord]
    providers: dict[str, bool] = field(default_factory=dict)
    """Every provider the payload speaks for, and whether it says it is configured.
    The catalog is complete for these providers and silent about all others..."""
    warnings: list[str] = field(default_factory=list)
    complete: bool = False
    """...unless the payload lists its source's every provider (LiteLLM's price map): then a
    provider its catalog held before and the payload does not name has no models now."""


def detect(document: Any, *, default_provider: str = DEFAULT_PROVIDER) -> RawCatalog:
    """Sort a parsed payload into one of the known shapes."""
    if isinstance(document, list):
        if document and not any(isinstance(item, dict) for item in document):
            raise PayloadError(
                "unrecognised catalog shape: a JSON array without a single model object"
            )
        if any(isinstance(item, dict) and _FLAT_MARKERS & item.keys() for item in document[:50]):
            return _flat(document)
        return _openrouter(document, default_provider)
    if isinstance(document, dict):
        if isinstance(document.get(PAGES_KEY), list):
            return _openrouter(_join_pages(document[PAGES_KEY]), default_provider)
        if isinstance(document.get("data"), list):
            _check_single_page(document)
            return _openrouter(document["data"], default_provider)
        if document and all(_is_category(value) for value in document.values()):
            return _categorized(document)
        if looks_like_price_map(document):
            return _price_map(document)
        keys = ", ".join(sorted(map(str, document))[:8]) or "none"
        raise PayloadError(
            "unrecognised catalog shape: expected InsForge's {category: [{provider, configured,"
            " models}]}, OpenRouter's {data: [...]}, a list of models or LiteLLM's {model:"
            f" {{litellm_provider, ...}}}}; got an object with keys {keys}"
        )
    raise PayloadError(f"unrecognised catalog shape: a JSON {type(document).__name__} at the top")


def _check_single_page(envelope: Mapping[str, Any]) -> None:
    # A page of a paginated list is not the catalog: applying it would retire every model
    # on the other pages.
    links = envelope.get("links")
    next_page = links.get("next") if isinstance(links, dict) else None
    total = envelope.get("total_count")
    if next_page or (isinstance(total, int) and total > len(envelope["data"])):
        raise PayloadError(
            f"payload is one page of a paginated list ({len(envelope['data'])} of "
            f"{total if isinstance(total, int) else 'more'} models): sync from the URL so every"
            " page is fetched"
        )


def _join_pages(pages: list[Any]) -> list[Any]:
    models: list[Any] = []
    for number, page in enumerate(pages, start=1):
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise PayloadError(f"page {number} of the paginated catalog has no data list")
        models.extend(page["data"])
    if pages:
        _check_single_page({**pages[-1], "data": models})
    return models


def _is_category(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(entry, dict) and "models" in entry for entry in value
    )


def _openrouter(models: Sequence[Any], provider: str) -> RawCatalog:
    return RawCatalog(
        shape="openrouter",
        records=[RawRecord(provider, document) for document in models],
        providers={provider: True},
    )


def _flat(models: Sequence[Any]) -> RawCatalog:
    catalog = RawCatalog(shape="insforge-flat", records=[])
    for index, document in enumerate(models):
        provider = document.get("provider") if isinstance(document, dict) else None
        if not isinstance(provider, str) or not provider:
            catalog.warnings.append(f"skipped entry {index}: it names no provider")
            continue
        catalog.providers[provider] = True
        catalog.records.append(RawRecord(provider, document))
    return catalog


def _categorized(document: Mapping[str, Any]) -> RawCatalog:
    catalog = RawCatalog(shape="insforge-categorized", records=[])
    for category, entries in document.items():
        for entry in entries:
            provider = entry.get("provider")
            configured = entry.get("configured", True)
            models = entry.get("models")
            if not isinstance(provider, str) or not provider:
                raise PayloadError(f"category {category!r} has an entry without a provider name")
            if not isinstance(configured, bool):
                raise PayloadError(f"provider {provider!r}: 'configured' must be true or false")
            if not isinstance(models, list):
                raise PayloadError(f"provider {provider!r} in {category!r}: 'models' is not a list")
            # Configured in any category means configured.
            catalog.providers[provider] = catalog.providers.get(provider, False) or configured
            catalog.records.extend(RawRecord(provider, model, category) for model in models)
    return catalog


def _price_map(document: Mapping[str, Any]) -> RawCatalog:
    entries = split_entries(document)
    catalog = RawCatalog(shape="litellm", records=[], warnings=entries.warnings, complete=True)
    for provider, wrapped in entries.models:
        catalog.providers[provider] = True
        catalog.records.append(RawRecord(provider, wrapped))
    return catalog


def parse_catalog(
    raw: bytes, provider: str = DEFAULT_PROVIDER, *, sha256: str | None = None
) -> tuple[Payload, RawCatalog]:
    """Parse a payload and recognise its shape; repairs are counted among the warnings.
    Records are validated later, against what is stored (see etl.store.load.apply_catalog).
    ``sha256``: the payload's digest when the caller has it already."""
    payload = read_payload(raw, sha256=sha256)
    catalog = detect(payload.document, default_provider=provider)
    if catalog.shape == "litellm":
        catalog.warnings[:0] = duplicate_warnings(payload.duplicate_keys)
    if payload.repaired_strings:
        catalog.warnings.append(
            f"repaired {payload.repaired_strings} strings holding NUL or lone UTF-16"
            " surrogates (replaced by U+FFFD)"
        )
    return payload, catalog
