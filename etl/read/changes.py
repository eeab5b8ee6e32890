"""The changes reports are made of: a model added, removed or returned, a price change, a
field change, and the report that holds them, with how a field is classified (capability or
other) and how changes are sorted.

:mod:`etl.read.net_changes` finds the net difference between two times and
:mod:`etl.read.change_events` every change with its time; every diff format renders from
their results. Prices stay :class:`~decimal.Decimal`; turning them into text is the
renderers' last step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from etl.ingest.money import Price as PriceValue
from etl.ingest.money import price_text
from etl.read.catalogs import CatalogWindow, named, windows_json
from etl.read.noise import is_rounding_noise
from etl.read.queries import ZERO, Filters
from etl.read.text_changes import change_detail
from etl.read.units import (
    change_percent,
    component_order,
    decimal_text,
    per_million,
    percent_text,
    price_value_text,
    unit,
)
from etl.times import iso

# Fields compared by `diff`; prices are compared separately, component by component.
CHANGE_FIELDS = (
    "name",
    "description",
    "created",
    "context_length",
    "max_completion_tokens",
    "top_provider_context_length",
    "is_moderated",
    "canonical_slug",
    "hugging_face_id",
    "modality",
    "tokenizer",
    "instruct_type",
    "input_modalities",
    "output_modalities",
    "categories",
    "supported_parameters",
    "pricing_discount",
    "pricing_overrides",
    "extra",
)
CAPABILITY_FIELDS: Final = frozenset(
    {
        "context_length",
        "max_completion_tokens",
        "top_provider_context_length",
        "modality",
        "input_modalities",
        "output_modalities",
        "supported_parameters",
    }
)
"""What a model can do; the other fields of CHANGE_FIELDS describe it."""
SET_VALUED_FIELDS: Final = frozenset(
    {"input_modalities", "output_modalities", "categories", "supported_parameters"}
)
SORTS: Final = ("model", "time", "movers")


@dataclass(frozen=True)
class ModelChange:
    """A model added (never seen before), removed, or returned (seen before, then gone)."""

    kind: str
    provider: str
    model: str
    vendor: str
    name: str | None
    context_length: int | None
    prices: Mapping[str, PriceValue] | None
    """Its non-zero prices then (None when unpriced): as of ``until``, or at the event; for
    a removal, its last prices before it left."""
    at: datetime | None = None
    """When it happened; only for events."""
    catalog: str | None = None
    """Its catalog, when the report spans several."""

    def price(self, component: str) -> PriceValue | None:
        return None if self.prices is None else self.prices.get(component, ZERO)

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = named(self.catalog) | {
            "provider": self.provider,
            "model": self.model,
        }
        if compact:
            return document
        if self.at is not None:
            document["at"] = iso(self.at)
        document |= {
            "vendor": self.vendor,
            "name": self.name,
            "context_length": self.context_length,
            "pricing": None
            if self.prices is None
            else {k: price_text(v) for k, v in sorted(self.prices.items())},
        }
        return document


@dataclass(frozen=True)
class PriceChange:
    """One component of one model, from ``old`` to ``new``: an exact amount per unit
    (``0`` for a component a priced model does not list), ``"dynamic"``, or None for an
    unpriced model."""

    provider: str
    model: str
    vendor: str
    name: str | None
    component: str
    old: PriceValue | None
    new: PriceValue | None
    at: datetime | None = None
    catalog: str | None = None

    @property
    def unit(self) -> str:
        return unit(self.component)

    @property
    def old_per_million(self) -> Decimal | None:
        return per_million(self.old, self.component)

    @property
    def new_per_million(self) -> Decimal | None:
        return per_million(self.new, self.component)

    @property
    def percent(self) -> Decimal | None:
        return change_percent(self.old, self.new)

    @property
    def rounding_noise(self) -> bool:
        """Smaller than one part in a million: float noise, not a price move
        (:mod:`etl.read.noise`)."""
        return is_rounding_noise(self.old, self.new)

    @property
    def direction(self) -> str:
        """``cut``, ``increase``, or ``other`` (to or from dynamic or unpriced)."""
        if isinstance(self.old, Decimal) and isinstance(self.new, Decimal):
            return "cut" if self.new < self.old else "increase"
        return "other"

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = named(self.catalog) | {
            "provider": self.provider,
            "model": self.model,
            "component": self.component,
            "old": price_value_text(self.old),
            "new": price_value_text(self.new),
        }
        if compact:
            return document
        if self.at is not None:
            document["at"] = iso(self.at)
        return document | {
            "vendor": self.vendor,
            "name": self.name,
            "unit": self.unit,
            "old_per_million": decimal_text(self.old_per_million),
            "new_per_million": decimal_text(self.new_per_million),
            "change_percent": percent_text(self.percent),
        }


@dataclass(frozen=True)
class FieldChange:
    """One attribute of one model, from ``old`` to ``new`` (lists for set-valued fields)."""

    provider: str
    model: str
    vendor: str
    name: str | None
    field: str
    old: Any
    new: Any
    at: datetime | None = None
    catalog: str | None = None

    @property
    def kind(self) -> str:
        """``capability`` (context, modalities, parameters ...) or ``other``."""
        return "capability" if self.field in CAPABILITY_FIELDS else "other"

    @property
    def added(self) -> list[Any]:
        """For a set-valued field, the elements gained."""
        if self.field not in SET_VALUED_FIELDS:
            return []
        return sorted(set(self.new or ()) - set(self.old or ()))

    @property
    def removed(self) -> list[Any]:
        """For a set-valued field, the elements lost."""
        if self.field not in SET_VALUED_FIELDS:
            return []
        return sorted(set(self.old or ()) - set(self.new or ()))

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = named(self.catalog) | {
            "provider": self.provider,
            "model": self.model,
            "field": self.field,
            "old": self.old,
            "new": self.new,
        }
        if compact:
            return document
        if self.at is not None:
            document["at"] = iso(self.at)
        document |= {"vendor": self.vendor, "name": self.name, "kind": self.kind}
        if self.field in SET_VALUED_FIELDS:
            document |= {"added": self.added, "removed": self.removed}
        return document | change_detail(self.old, self.new)


Ident = tuple[str, str, str, str | None]
"""A changed model as every change names it: provider, model, vendor and name."""


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def field_changes(
    ident: Ident,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    at: datetime | None = None,
    catalog: str | None = None,
) -> list[FieldChange]:
    """Each field of CHANGE_FIELDS that differs between two versions' contents (as
    :func:`etl.read.stored.version_contents` reads them)."""
    changes = []
    for name in CHANGE_FIELDS:
        old_value, new_value = _comparable(old[name]), _comparable(new[name])
        if old_value != new_value:
            changes.append(FieldChange(*ident, name, old_value, new_value, at, catalog))
    return changes


@dataclass(frozen=True)
class ChangeReport:
    """What changed between two times: the net difference, or (``events``) every change
    observed in ``(since, until]`` with its time."""

    since: datetime | None
    until: datetime | None
    since_observed_at: datetime | None
    until_observed_at: datetime | None
    events: bool
    filters: Filters
    sort: str
    added: tuple[ModelChange, ...] = ()
    removed: tuple[ModelChange, ...] = ()
    returned: tuple[ModelChange, ...] = ()
    price_changes: tuple[PriceChange, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    rounding_noise: tuple[PriceChange, ...] = ()
    """Price changes that are rounding noise, kept apart from ``price_changes``; empty when
    the report includes the noise with the real moves (``include_noise``)."""
    include_noise: bool = False
    catalogs: tuple[CatalogWindow, ...] = ()
    """The catalogs the report names (none for a database of one catalog); each change
    names its own when they are several."""

    @property
    def named(self) -> bool:
        return len(self.catalogs) > 1

    @property
    def capability_changes(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if c.kind == "capability")

    @property
    def other_changes(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if c.kind == "other")

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.returned
            or self.price_changes
            or self.changes
            or self.rounding_noise
        )

    def summary(self) -> dict[str, int]:
        directions = [change.direction for change in self.price_changes]
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "returned": len(self.returned),
            "repriced_models": len({(c.catalog, c.provider, c.model) for c in self.price_changes}),
            "price_changes": len(self.price_changes),
            "price_cuts": directions.count("cut"),
            "price_increases": directions.count("increase"),
            "rounding_noise": len(self.rounding_noise),
            "capability_changes": len(self.capability_changes),
            "other_changes": len(self.other_changes),
        }

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        """The document ``diff --format json`` prints; ``compact`` keeps each item to its
        identity and old and new values (the shape
        :func:`etl.read.net_changes.diff_report` returns)."""
        document: dict[str, Any] = {
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until) if self.until else None,
            "since_observed_at": iso(self.since_observed_at) if self.since_observed_at else None,
            "until_observed_at": iso(self.until_observed_at) if self.until_observed_at else None,
        }
        document |= windows_json(self.catalogs)
        if not compact:
            document |= {
                "events": self.events,
                "sort": self.sort,
                "include_noise": self.include_noise,
                "filters": self.filters.to_json(),
                "summary": self.summary(),
            }
        for section in (
            "added",
            "removed",
            "returned",
            "price_changes",
            "rounding_noise",
            "changes",
        ):
            items: tuple[ModelChange | PriceChange | FieldChange, ...] = getattr(self, section)
            document[section] = [item.to_json(compact=compact) for item in items]
        return document


def _model_key(change: ModelChange | PriceChange | FieldChange) -> tuple[Any, ...]:
    detail = getattr(change, "component", None) or getattr(change, "field", None) or ""
    order = (
        component_order(detail)
        if isinstance(change, PriceChange)
        else (CHANGE_FIELDS.index(detail) if detail in CHANGE_FIELDS else 0, detail)
    )
    return (change.catalog or "", change.provider, change.model, order)


def sorted_changes(
    items: Iterable[ModelChange | PriceChange | FieldChange], sort: str
) -> tuple[Any, ...]:
    def key(change: ModelChange | PriceChange | FieldChange) -> tuple[Any, ...]:
        by_model = _model_key(change)
        when = (change.at,) if change.at is not None else ()
        if sort == "movers" and isinstance(change, PriceChange):
            # Finite changes first, biggest first; then changes from 0, dynamic or unpriced.
            percent = change.percent
            return (percent is None, -abs(percent) if percent is not None else 0, *by_model)
        if sort == "model":
            return (*by_model, *when)
        return (*when, *by_model)

    return tuple(sorted(items, key=key))


def split_noise(
    price_changes: Iterable[PriceChange], *, include_noise: bool
) -> tuple[list[PriceChange], list[PriceChange]]:
    """The real price moves and, apart, the rounding noise; with ``include_noise`` every
    change is a real move and the noise is empty."""
    real: list[PriceChange] = []
    noise: list[PriceChange] = []
    for change in price_changes:
        (noise if change.rounding_noise and not include_noise else real).append(change)
    return real, noise


def check_sort(sort: str | None, events: bool) -> str:
    sort = sort or ("time" if events else "model")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    return sort
