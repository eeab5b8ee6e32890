"""The same model's price side by side across catalogs, as of a time (``catalog-etl
compare``).

Models match on ``models.match_key`` (:mod:`etl.ingest.match`): ``vendor/name`` lowercased,
``.`` and ``_`` written ``-``, so OpenRouter's ``openai/gpt-4o`` and LiteLLM's ``gpt-4o``
(provider ``openai``) are one key. Nothing fuzzier, and no guessing:

* a key that several models of one catalog share (``~openai/gpt-4o`` beside
  ``openai/gpt-4o``) is *ambiguous* in that catalog: those models are listed apart and left
  out of the comparison; the other catalogs are still compared;
* a component's price is an exact amount, ``0`` when a priced model does not list it,
  dynamic (decided per request: shown, never compared as a number) or unpriced (the model
  has no pricing at all: shown, not compared);
* a key's component is compared when at least two catalogs give it an amount and at least
  one catalog charges for it (a stored price, so ``0`` everywhere is no comparison).

The spread is ``(highest - lowest) / lowest * 100`` in exact :class:`~decimal.Decimal`
arithmetic (shown rounded to two places), undefined when the lowest is ``0``. The SQL view
``cross_catalog_prices`` applies the same rules to the current prices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection

from etl.ingest.money import Price
from etl.read.catalogs import CatalogScope, catalog_scope, latest_observations
from etl.read.offers import ZERO, CatalogSeen, Offer, offers_as_of
from etl.read.queries import NO_FILTERS, Filters
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

DEFAULT_COMPONENTS: Final = ("prompt", "completion")


@dataclass(frozen=True)
class Quote:
    """One catalog's price of a key's component, and the model it is the price of."""

    catalog: str
    provider: str
    model: str
    price: Price | None
    """An amount (``0`` included), dynamic, or None when the model is unpriced."""

    def to_json(self, component: str) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "provider": self.provider,
            "model": self.model,
            "price": price_value_text(self.price),
            "per_million": decimal_text(per_million(self.price, component)),
        }


@dataclass(frozen=True)
class Comparison:
    """One key's component across the catalogs that list it unambiguously."""

    match_key: str
    component: str
    quotes: tuple[Quote, ...]
    """One per catalog, by catalog name; amounts, dynamic and unpriced ones alike."""
    ambiguous_in: tuple[str, ...]
    """Catalogs where several models share the key: left out."""

    @property
    def amounts(self) -> tuple[Decimal, ...]:
        """The amounts compared: dynamic and unpriced quotes aside."""
        return tuple(q.price for q in self.quotes if isinstance(q.price, Decimal))

    @property
    def lowest(self) -> Decimal:
        return min(self.amounts)

    @property
    def highest(self) -> Decimal:
        return max(self.amounts)

    @property
    def spread(self) -> Decimal | None:
        """``(highest - lowest) / lowest * 100``, exact; None when the lowest is 0."""
        return change_percent(self.lowest, self.highest)

    def to_json(self) -> dict[str, Any]:
        component = self.component
        return {
            "match_key": self.match_key,
            "component": component,
            "unit": unit(component),
            "lowest": decimal_text(self.lowest),
            "highest": decimal_text(self.highest),
            "lowest_per_million": decimal_text(per_million(self.lowest, component)),
            "highest_per_million": decimal_text(per_million(self.highest, component)),
            "spread_percent": percent_text(self.spread),
            "catalogs_compared": len(self.amounts),
            "prices": [quote.to_json(component) for quote in self.quotes],
            "ambiguous_in": list(self.ambiguous_in),
        }


@dataclass(frozen=True)
class Ambiguity:
    """A key that several models of one catalog share."""

    catalog: str
    match_key: str
    candidates: tuple[tuple[str, str], ...]
    """``(provider, model)`` of each, sorted."""

    def to_json(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "match_key": self.match_key,
            "candidates": [{"provider": p, "model": m} for p, m in self.candidates],
        }


@dataclass(frozen=True)
class CrossCatalog:
    as_of: datetime
    catalogs: tuple[CatalogSeen, ...]
    """The catalogs compared: those chosen that had been observed by ``as_of``."""
    not_observed: tuple[str, ...]
    """Catalogs named with ``--catalog`` but not observed by ``as_of``."""
    components: tuple[str, ...]
    filters: Filters
    min_spread: Decimal | None
    rows: tuple[Comparison, ...]
    """Widest spread first; undefined spreads last."""
    ambiguous: tuple[Ambiguity, ...]
    shared_keys: int
    """Keys listed by at least two of the catalogs."""
    single_catalog_keys: int
    """Keys listed by one catalog only: nothing to compare them with."""

    @property
    def reason(self) -> str | None:
        """Why nothing could be compared; None when at least two catalogs take part."""
        if len(self.catalogs) >= 2:
            return None
        observed = f"only {self.catalogs[0].name}" if self.catalogs else "no catalog"
        return (
            f"nothing compared: {observed} had been observed by {iso(self.as_of)};"
            " a comparison needs two catalogs"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": iso(self.as_of),
            "catalogs": [
                {"name": c.name, "observed_at": iso(c.observed_at) if c.observed_at else None}
                for c in self.catalogs
            ],
            "not_observed": list(self.not_observed),
            "components": list(self.components),
            "units": {component: unit(component) for component in self.components},
            "filters": {"vendor": list(self.filters.vendors), "model": list(self.filters.models)},
            "min_spread_percent": decimal_text(self.min_spread),
            "reason": self.reason,
            "keys": {
                "shared": self.shared_keys,
                "single_catalog": self.single_catalog_keys,
                "ambiguous": len({a.match_key for a in self.ambiguous}),
            },
            "comparisons": [row.to_json() for row in self.rows],
            "ambiguous": [a.to_json() for a in self.ambiguous],
        }


def _wanted(key: str, offers: Iterable[Offer], filters: Filters) -> bool:
    """A key is kept whole when the filters match it or any of its models' ids: a model
    glob written with one catalog's spelling still brings the others' models along."""
    if not (filters.vendors or filters.models):
        return True
    return any(filters.matches(o.vendor, o.model) or filters.matches(o.vendor, key) for o in offers)


def _comparisons(
    key: str, by_catalog: dict[str, list[Offer]], components: Sequence[str]
) -> Iterable[Comparison]:
    """The key's components that two catalogs give amounts for and one charges for."""
    single = {catalog: found[0] for catalog, found in by_catalog.items() if len(found) == 1}
    ambiguous = tuple(sorted(set(by_catalog) - set(single)))
    for component in components:
        charged = any(component in o.prices for found in by_catalog.values() for o in found)
        quotes = tuple(
            Quote(catalog, o.provider, o.model, o.price(component))
            for catalog, o in sorted(single.items())
        )
        row = Comparison(key, component, quotes, ambiguous)
        if charged and len(row.amounts) >= 2:
            yield row


def _sort_key(row: Comparison) -> tuple[bool, Decimal, str, tuple[int, str]]:
    """Widest spread first, undefined ones last; then by key and component."""
    spread = row.spread
    return (spread is None, -(spread or ZERO), row.match_key, component_order(row.component))


def compare(
    as_of: datetime,
    catalogs: Sequence[CatalogSeen],
    offers: Iterable[Offer],
    *,
    components: Sequence[str] = DEFAULT_COMPONENTS,
    filters: Filters = NO_FILTERS,
    min_spread: Decimal | None = None,
    not_observed: Sequence[str] = (),
) -> CrossCatalog:
    """Compare ``offers`` (what ``catalogs`` listed at ``as_of``) key by key. Pure: the
    database is read by :func:`cross_catalog`. ``min_spread`` keeps rows whose exact spread
    is at least that many percent (undefined spreads go)."""
    names = {c.name for c in catalogs}
    keys: dict[str, dict[str, list[Offer]]] = defaultdict(lambda: defaultdict(list))
    for offer in offers:
        if offer.catalog in names:
            keys[offer.match_key][offer.catalog].append(offer)
    rows: list[Comparison] = []
    ambiguous: list[Ambiguity] = []
    shared = single = 0
    for key, by_catalog in sorted(keys.items()):
        if not _wanted(key, (o for found in by_catalog.values() for o in found), filters):
            continue
        if len(by_catalog) < 2:
            single += 1
            continue
        shared += 1
        ambiguous += [
            Ambiguity(catalog, key, tuple(sorted((o.provider, o.model) for o in found)))
            for catalog, found in sorted(by_catalog.items())
            if len(found) > 1
        ]
        rows += _comparisons(key, by_catalog, components)
    if min_spread is not None:
        rows = [row for row in rows if row.spread is not None and row.spread >= min_spread]
    rows.sort(key=_sort_key)
    return CrossCatalog(
        as_of,
        tuple(sorted(catalogs, key=lambda c: c.name)),
        tuple(not_observed),
        tuple(components),
        filters,
        min_spread,
        tuple(rows),
        tuple(ambiguous),
        shared,
        single,
    )


def cross_catalog(
    connection: Connection,
    as_of: datetime,
    *,
    catalogs: Collection[str] = (),
    components: Sequence[str] = (),
    filters: Filters = NO_FILTERS,
    min_spread: Decimal | None = None,
) -> CrossCatalog:
    """Compare the named catalogs (every catalog observed by ``as_of`` when none is named)
    as they were at ``as_of``, in a few set queries. Raises
    :class:`~etl.read.catalogs.UnknownCatalog` for a name the database does not hold."""
    known = catalog_scope(connection, catalogs).known
    every = CatalogScope(known, None, tuple(sorted(set(catalogs) or known.values())))
    chosen = [CatalogSeen(name, at) for name, at in latest_observations(connection, every, as_of)]
    taking_part = [c for c in chosen if c.observed_at is not None]
    # Only a catalog asked for by name is worth a mention when it has nothing yet.
    not_observed = [c.name for c in chosen if c.observed_at is None] if catalogs else []
    columns = tuple(dict.fromkeys(components or DEFAULT_COMPONENTS))
    offers = (
        offers_as_of(connection, as_of, [c.name for c in taking_part], columns)
        if len(taking_part) >= 2
        else []
    )
    return compare(
        as_of,
        taking_part,
        offers,
        components=columns,
        filters=filters,
        min_spread=min_spread,
        not_observed=not_observed,
    )
