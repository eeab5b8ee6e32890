"""LiteLLM's model price map (``model_prices_and_context_window.json``) as a catalog shape.

One JSON object keyed by model name, each value an object with ``litellm_provider``,
``mode``, token limits, prices as JSON numbers and ``supports_*`` flags. Each entry becomes
one record of provider ``litellm_provider`` and model id its key; the record's document is
``{"id": key, "entry": value}`` (:data:`ENTRY_KEY`), so that every stage that reads a record's
``id`` reads the key. How an entry's fields are stored: :mod:`etl.ingest.litellm_records`.

Top-level entries that are not models are skipped, never failing the sync:

* ``sample_spec`` documents the format (its values are descriptions): skipped silently;
* ``{"alias_of": ...}`` entries (a name for another entry, no provider, no price), entries
  without a usable ``litellm_provider`` (``fallback_generalizations``, a set of routing rules;
  1.0.0's five ``together-ai-*`` price tiers) and values that are not objects: skipped, with
  one warning per sync counting them and naming the first few.

A key written twice in the file keeps its last value, as with every JSON parser; the sync
warns once per such model when the copies differ, naming it, and once in all for models
repeated with identical values (:func:`duplicate_warnings`).

The file speaks for every provider: a model gone from a later release is removed, and so are
the models of a provider that leaves the file altogether (``RawCatalog.complete``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from etl.ingest.payload import PRICE_MAP_MARKERS, DuplicateKey

ENTRY_KEY: Final = "entry"
"""Key of the entry inside a record's document ``{"id": key, "entry": value}``."""

DOCUMENTATION_KEYS: Final = frozenset({"sample_spec"})
"""Top-level keys that document the format; never models."""

MARKER_KEYS: Final = frozenset(marker.strip(b'"').decode() for marker in PRICE_MAP_MARKERS)
"""An object holding one of these keys is a LiteLLM entry."""

_MAX_NAME = 255
_NAMES_SHOWN = 5


def looks_like_price_map(document: Mapping[str, Any]) -> bool:
    """A top-level object with at least one entry holding ``litellm_provider`` or a token price.

    Asked only after the other shapes said no (see :func:`etl.ingest.shapes.detect`)."""
    return any(
        isinstance(entry, dict) and not MARKER_KEYS.isdisjoint(entry) for entry in document.values()
    )


@dataclass
class PriceMapEntries:
    """The model entries of a price map, and what was skipped."""

    models: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(provider, ``{"id": key, "entry": value}``) for each model, in file order."""
    warnings: list[str] = field(default_factory=list)


def split_entries(document: Mapping[str, Any]) -> PriceMapEntries:
    """Sort the top-level entries into models and the rest (see the module's docstring)."""
    found = PriceMapEntries()
    aliases: list[str] = []
    providerless: list[str] = []
    not_objects: list[str] = []
    for key, entry in document.items():
        if key in DOCUMENTATION_KEYS:
            continue
        if not isinstance(entry, dict):
            not_objects.append(key)
            continue
        provider = entry.get("litellm_provider")
        if isinstance(provider, str) and 0 < len(provider) <= _MAX_NAME:
            found.models.append((provider, {"id": key, ENTRY_KEY: entry}))
        elif "alias_of" in entry:
            aliases.append(key)
        else:
            providerless.append(key)
    groups = [
        (aliases, "aliases of another entry"),
        (providerless, "without a litellm_provider"),
        (not_objects, "that are not objects"),
    ]
    parts = [f"{len(keys)} {what} ({_names(keys)})" for keys, what in groups if keys]
    if parts:
        total = len(aliases) + len(providerless) + len(not_objects)
        found.warnings.append(f"skipped {total} entries that are not models: " + "; ".join(parts))
    return found


def duplicate_warnings(duplicates: Iterable[DuplicateKey]) -> list[str]:
    """One warning per model written more than once with different values, one for all those
    repeated identically, one per key repeated inside an entry."""
    warnings: list[str] = []
    identical: list[str] = []
    for duplicate in duplicates:
        if duplicate.top_level and duplicate.identical:
            identical.append(duplicate.key)
        elif duplicate.top_level:
            warnings.append(
                f"model {duplicate.key!r} is written {duplicate.count} times with different"
                " values: the last one is used"
            )
        else:
            same = "the same value" if duplicate.identical else "different values"
            warnings.append(
                f"key {duplicate.key!r} is written {duplicate.count} times in one entry with"
                f" {same}: the last one is used"
            )
    if identical:
        warnings.append(
            f"{len(identical)} models are written more than once with identical values, used"
            f" once: {_names(identical)}"
        )
    return warnings


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_NAMES_SHOWN])
    more = len(keys) - _NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
