"""What changed between two times: the net difference (added, removed, returned, repriced,
capability changes) or every observed change with its time.

Read-only, built on :mod:`etl.read.queries`; every diff format renders from these results.
Prices stay :class:`~decimal.Decimal`; turning them into text is the renderers' last step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Table, and_, func, or_, select

from etl.db.state import PRICE_INTERVAL_COLUMNS, read_capabilities, stored_price, valid_at
from etl.db.tables import (
    model_availability_table,
    model_versions_table,
    prices_table,
)
from etl.ingest.money import Price as PriceValue
from etl.ingest.money import canonical, price_text
from etl.ingest.normalize import SCALAR_FIELDS

# Fields compared by `diff`; prices are compared separately, component by component.
from etl.read.queries import (
    NO_FILTERS,
    ZERO,
    Filters,
    ModelHead,
    heads_as_of,
    latest_observation,
    model_directory,
    scoped,
)
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


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


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
    """Its non-zero prices then: as of ``until`` (``since`` for a removal), or at the event;
    None when unpriced."""
    at: datetime | None = None
    """When it happened; only for events."""

    def price(self, component: str) -> PriceValue | None:
        return None if self.prices is None else self.prices.get(component, ZERO)

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = {"provider": self.provider, "model": self.model}
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
    def direction(self) -> str:
        """``cut``, ``increase``, or ``other`` (to or from dynamic or unpriced)."""
        if isinstance(self.old, Decimal) and isinstance(self.new, Decimal):
            return "cut" if self.new < self.old else "increase"
        return "other"

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = {
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
        document: dict[str, Any] = {
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
        return document


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

    @property
    def capability_changes(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if c.kind == "capability")

    @property
    def other_changes(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if c.kind == "other")

    @property
    def empty(self) -> bool:
        return not (
            self.added or self.removed or self.returned or self.price_changes or self.changes
        )

    def summary(self) -> dict[str, int]:
        directions = [change.direction for change in self.price_changes]
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "returned": len(self.returned),
            "repriced_models": len({(c.provider, c.model) for c in self.price_changes}),
            "price_changes": len(self.price_changes),
            "price_cuts": directions.count("cut"),
            "price_increases": directions.count("increase"),
            "capability_changes": len(self.capability_changes),
            "other_changes": len(self.other_changes),
        }

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        """The document ``diff --format json`` prints; ``compact`` keeps each item to its
        identity and old and new values (the shape :func:`diff_report` returns)."""
        document: dict[str, Any] = {
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until) if self.until else None,
            "since_observed_at": iso(self.since_observed_at) if self.since_observed_at else None,
            "until_observed_at": iso(self.until_observed_at) if self.until_observed_at else None,
        }
        if not compact:
            document |= {
                "events": self.events,
                "sort": self.sort,
                "filters": self.filters.to_json(),
                "summary": self.summary(),
            }
        for section in ("added", "removed", "returned", "price_changes", "changes"):
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
    return (change.provider, change.model, order)


def _sorted(items: Iterable[ModelChange | PriceChange | FieldChange], sort: str) -> tuple[Any, ...]:
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


def _check_sort(sort: str | None, events: bool) -> str:
    sort = sort or ("time" if events else "model")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    return sort


def net_changes(
    connection: Connection,
    since: datetime,
    until: datetime,
    filters: Filters = NO_FILTERS,
    sort: str | None = None,
) -> ChangeReport:
    """The net difference between the catalog as of ``since`` and as of ``until``.

    A model available at ``until`` but not at ``since`` was *added* when it was first seen
    after ``since``, and *returned* otherwise. A model that left and came back inside the
    window is no net change. Only versions that differ are read in full.
    """
    sort = _check_sort(sort, events=False)
    directory = model_directory(connection, filters, since, until)
    before, after = heads_as_of(connection, since), heads_as_of(connection, until)

    def model_change(kind: str, head: ModelHead) -> ModelChange:
        info = directory[head.model_id]
        prices = dict(head.prices) if head.priced else None
        return ModelChange(
            kind, info.provider, info.model, info.vendor, head.name, head.context_length, prices
        )

    old_ids = {i for i in before.listed if i in directory}
    new_ids = {i for i in after.listed if i in directory}
    added: list[ModelChange] = []
    returned: list[ModelChange] = []
    for model_id in new_ids - old_ids:
        if directory[model_id].first_seen_at <= since:
            returned.append(model_change("returned", after.models[model_id]))
        else:
            added.append(model_change("added", after.models[model_id]))
    removed = [model_change("removed", before.models[i]) for i in old_ids - new_ids]

    common = old_ids & new_ids
    changed = {
        i: (before.models[i].version_id, after.models[i].version_id)
        for i in common
        if before.models[i].version_id != after.models[i].version_id
    }
    contents = version_contents(connection, {v for pair in changed.values() for v in pair})
    price_changes: list[PriceChange] = []
    changes: list[FieldChange] = []
    for model_id in common:
        old, new = before.models[model_id], after.models[model_id]
        info = directory[model_id]
        ident = (info.provider, info.model, info.vendor, new.name)
        for component in old.prices.keys() | new.prices.keys():
            old_price, new_price = old.price(component), new.price(component)
            if old_price != new_price and filters.wants_component(component):
                price_changes.append(PriceChange(*ident, component, old_price, new_price))
        if model_id in changed:
            old_content, new_content = contents[old.version_id], contents[new.version_id]
            for name in CHANGE_FIELDS:
                old_value = _comparable(old_content[name])
                new_value = _comparable(new_content[name])
                if old_value != new_value:
                    changes.append(FieldChange(*ident, name, old_value, new_value))
    return ChangeReport(
        since=since,
        until=until,
        since_observed_at=before.observed_at,
        until_observed_at=after.observed_at,
        events=False,
        filters=filters,
        sort=sort,
        added=_sorted(added, sort),
        removed=_sorted(removed, sort),
        returned=_sorted(returned, sort),
        price_changes=_sorted(price_changes, sort),
        changes=_sorted(changes, sort),
    )


def diff_report(connection: Connection, since: datetime, until: datetime) -> dict[str, Any]:
    """The net difference as a compact document: each item only names the model and the
    old and new values. ``net_changes(...).to_json()`` is the full document."""
    return net_changes(connection, since, until).to_json(compact=True)


# --- Every change, with its time --------------------------------------------------------


def _window(column: Any, since: datetime | None, until: datetime | None) -> ColumnElement[bool]:
    """``since < column <= until``; an open bound when None."""
    conditions: list[ColumnElement[bool]] = [column.is_not(None)]
    if since is not None:
        conditions.append(column > since)
    if until is not None:
        conditions.append(column <= until)
    return and_(*conditions)


@dataclass(frozen=True)
class Span:
    """A stored row's interval, with what reports need from it."""

    valid_from: datetime
    valid_to: datetime | None
    value: Any

    def holds_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_to is None or self.valid_to > moment)

    def holds_before(self, moment: datetime) -> bool:
        """In force just before ``moment``."""
        return self.valid_from < moment and (self.valid_to is None or self.valid_to >= moment)


def _priced_spans(connection: Connection, model_ids: Collection[int]) -> dict[int, list[Span]]:
    """When each model had a pricing block: its versions' intervals and ``priced`` flags."""
    spans: dict[int, list[Span]] = defaultdict(list)
    query = select(
        model_versions_table.c.model_id,
        model_versions_table.c.valid_from,
        model_versions_table.c.valid_to,
        model_versions_table.c.priced,
    )
    for chunk in scoped(query, model_versions_table.c.model_id, model_ids):
        for model_id, start, end, priced in connection.execute(chunk).all():
            spans[model_id].append(Span(start, end, priced))
    return spans


def _priced(spans: list[Span], moment: datetime, *, before: bool = False) -> bool:
    """Whether the model was priced at ``moment`` (or just before it)."""
    for span in spans:
        if span.holds_before(moment) if before else span.holds_at(moment):
            return bool(span.value)
    return False


_EventState = tuple[int | None, dict[str, PriceValue] | None]
"""A model's context length and prices (None when unpriced) at one event."""


def _states_at_listing_events(
    connection: Connection,
    since: datetime | None,
    until: datetime | None,
    scope: Collection[int] | None,
) -> dict[tuple[int, datetime], _EventState]:
    """Each model's context length and prices when an availability interval opened or
    closed inside the window: the rows in force then, found by joins (no per-model work)."""
    versions: dict[tuple[int, datetime], tuple[int | None, bool]] = {}
    prices: dict[tuple[int, datetime], dict[str, PriceValue]] = defaultdict(dict)
    for when in (model_availability_table.c.valid_from, model_availability_table.c.valid_to):

        def in_force(table: Table, when: Any = when) -> ColumnElement[bool]:
            return and_(
                table.c.model_id == model_availability_table.c.model_id,
                table.c.valid_from <= when,
                or_(table.c.valid_to.is_(None), table.c.valid_to > when),
            )

        version_query = (
            select(
                model_availability_table.c.model_id,
                when,
                model_versions_table.c.context_length,
                model_versions_table.c.priced,
            )
            .join(model_versions_table, in_force(model_versions_table))
            .where(_window(when, since, until))
        )
        for chunk in scoped(version_query, model_availability_table.c.model_id, scope):
            for model_id, moment, context, priced in connection.execute(chunk).all():
                versions[(model_id, moment)] = (context, priced)
        price_query = (
            select(
                model_availability_table.c.model_id,
                when,
                prices_table.c.component,
                prices_table.c.amount,
                prices_table.c.dynamic,
            )
            .join(prices_table, in_force(prices_table))
            .where(_window(when, since, until))
        )
        for chunk in scoped(price_query, model_availability_table.c.model_id, scope):
            for model_id, moment, component, amount, dynamic in connection.execute(chunk).all():
                prices[(model_id, moment)][component] = stored_price(amount, dynamic)
    return {
        key: (context, dict(prices.get(key, {})) if priced else None)
        for key, (context, priced) in versions.items()
    }


def _names(
    connection: Connection, moment: datetime | None, scope: Collection[int] | None
) -> dict[int, str | None]:
    """Each model's name as of ``moment`` (its latest name when None): reports name a model
    once, however many changes it has."""
    # Versions stay open while a model is away, so every model seen by then has one.
    query = select(model_versions_table.c.model_id, model_versions_table.c.name).where(
        valid_at(model_versions_table, moment)
    )
    names: dict[int, str | None] = {}
    for chunk in scoped(query, model_versions_table.c.model_id, scope):
        names.update(connection.execute(chunk).all())
    return names


_CONTENT_COLUMNS: Final = tuple(
    model_versions_table.c[name] for name in SCALAR_FIELDS if name != "pricing_discount"
)


def version_contents(
    connection: Connection, version_ids: Collection[int]
) -> dict[int, dict[str, Any]]:
    """The tracked content of the given model versions, as :func:`etl.db.state.read_stored`
    reads it (sets as sorted tuples, the discount as text), by version id."""
    query = select(
        model_versions_table.c.id,
        model_versions_table.c.capability_set_id,
        model_versions_table.c.pricing_discount,
        model_versions_table.c.extra,
        *_CONTENT_COLUMNS,
    )
    names = [column.key for column in _CONTENT_COLUMNS]
    rows = [
        row
        for chunk in scoped(query, model_versions_table.c.id, version_ids)
        for row in connection.execute(chunk).all()
    ]
    sets = read_capabilities(connection, {row[1] for row in rows})
    contents = {}
    for version_id, set_id, discount, extra, *values in rows:
        content: dict[str, Any] = dict(zip(names, values, strict=True))
        content["pricing_discount"] = None if discount is None else canonical(discount)
        content.update(sets[set_id])
        content["extra"] = extra or {}
        contents[version_id] = content
    return contents


def change_events(
    connection: Connection,
    since: datetime | None,
    until: datetime | None,
    filters: Filters = NO_FILTERS,
    sort: str | None = None,
    *,
    model_ids: Collection[int] | None = None,
) -> ChangeReport:
    """Every change observed in ``(since, until]`` (an open bound when None), with its time:
    models added, removed and returned, each new version's changed fields, and each price
    change. ``model_ids`` narrows it further (``history`` reads one model this way)."""
    sort = _check_sort(sort, events=True)
    directory = model_directory(connection, filters, since, until, model_ids=model_ids)
    scope: set[int] | None = set(directory) if filters.narrows_models else None
    if model_ids is not None:
        scope = set(model_ids) if scope is None else scope & set(model_ids)

    # Availability: intervals opening or closing inside the window.
    availability = select(
        model_availability_table.c.model_id,
        model_availability_table.c.valid_from,
        model_availability_table.c.valid_to,
    )
    availability = availability.where(
        or_(
            _window(model_availability_table.c.valid_from, since, until),
            _window(model_availability_table.c.valid_to, since, until),
        )
    )
    model_events: list[tuple[str, int, datetime]] = []
    for query in scoped(availability, model_availability_table.c.model_id, scope):
        for model_id, start, end in connection.execute(query).all():
            if _inside(start, since, until):
                first = start == directory[model_id].first_seen_at
                model_events.append(("added" if first else "returned", model_id, start))
            if end is not None and _inside(end, since, until):
                model_events.append(("removed", model_id, end))

    # Versions: each new version inside the window against the one it replaced.
    current, previous = model_versions_table.alias(), model_versions_table.alias()
    pairs_query = (
        select(current.c.model_id, current.c.id, previous.c.id, current.c.valid_from)
        .join(
            previous,
            and_(
                previous.c.model_id == current.c.model_id,
                previous.c.version == current.c.version - 1,
            ),
        )
        .where(_window(current.c.valid_from, since, until))
    )
    pairs = [
        row
        for query in scoped(pairs_query, current.c.model_id, scope)
        for row in connection.execute(query).all()
    ]
    contents = version_contents(connection, {i for row in pairs for i in row[1:3]})

    # Prices: rows starting or ending inside the window, matched up by time.
    price_query = select(*PRICE_INTERVAL_COLUMNS).where(
        or_(
            _window(prices_table.c.valid_from, since, until),
            _window(prices_table.c.valid_to, since, until),
        )
    )
    if filters.components:
        price_query = price_query.where(
            func.lower(prices_table.c.component).in_([c.lower() for c in filters.components])
        )
    ended: dict[tuple[int, str, datetime], PriceValue] = {}
    started: dict[tuple[int, str, datetime], PriceValue] = {}
    for query in scoped(price_query, prices_table.c.model_id, scope):
        for model_id, component, amount, dynamic, start, end in connection.execute(query).all():
            value = stored_price(amount, dynamic)
            if _inside(start, since, until):
                started[(model_id, component, start)] = value
            if end is not None and _inside(end, since, until):
                ended[(model_id, component, end)] = value

    # What the rows above do not say: whether a model was priced when a component appeared
    # or vanished, and the state of models that came and went.
    states = _states_at_listing_events(connection, since, until, scope) if model_events else {}
    # A new model's first prices belong to its "added" entry, not to the price changes.
    for key in [k for k in started if k not in ended and k[2] == directory[k[0]].first_seen_at]:
        del started[key]
    priced = _priced_spans(connection, {key[0] for key in ended.keys() ^ started.keys()})
    names = _names(connection, until, scope)

    def ident(model_id: int) -> tuple[str, str, str, str | None]:
        info = directory[model_id]
        return info.provider, info.model, info.vendor, names.get(model_id)

    sections: dict[str, list[ModelChange]] = {"added": [], "removed": [], "returned": []}
    for kind, model_id, moment in model_events:
        # A removed model keeps its last version and prices open, so "at" shows them too.
        context, prices = states.get((model_id, moment), (None, None))
        sections[kind].append(ModelChange(kind, *ident(model_id), context, prices, at=moment))

    changes = []
    for model_id, new_id, old_id, moment in pairs:
        old, new = contents[old_id], contents[new_id]
        for name in CHANGE_FIELDS:
            old_value, new_value = _comparable(old[name]), _comparable(new[name])
            if old_value != new_value:
                changes.append(FieldChange(*ident(model_id), name, old_value, new_value, moment))

    price_changes = []
    for key in ended.keys() | started.keys():
        model_id, component, moment = key
        old_price = ended.get(key)
        if old_price is None:
            old_price = ZERO if _priced(priced[model_id], moment, before=True) else None
        new_price = started.get(key)
        if new_price is None:
            new_price = ZERO if _priced(priced[model_id], moment) else None
        if old_price != new_price:
            price_changes.append(
                PriceChange(*ident(model_id), component, old_price, new_price, moment)
            )

    return ChangeReport(
        since=since,
        until=until,
        since_observed_at=latest_observation(connection, since) if since else None,
        until_observed_at=latest_observation(connection, until),
        events=True,
        filters=filters,
        sort=sort,
        added=_sorted(sections["added"], sort),
        removed=_sorted(sections["removed"], sort),
        returned=_sorted(sections["returned"], sort),
        price_changes=_sorted(price_changes, sort),
        changes=_sorted(changes, sort),
    )


def _inside(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment > since) and (until is None or moment <= until)
