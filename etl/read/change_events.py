"""Every change observed inside a window, with its time: models added, removed and returned,
each new version's changed fields, each price change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, func, or_, select

from etl.db.state import PRICE_INTERVAL_COLUMNS, stored_price, valid_at
from etl.db.tables import (
    model_availability_table,
    model_versions_table,
    prices_table,
)
from etl.ingest.money import Price as PriceValue
from etl.read.catalogs import CatalogScope, catalog_scope, observation_windows
from etl.read.changes import (
    ChangeReport,
    FieldChange,
    Ident,
    ModelChange,
    PriceChange,
    check_sort,
    field_changes,
    sorted_changes,
    split_noise,
)
from etl.read.queries import (
    NO_FILTERS,
    ZERO,
    Filters,
    ModelInfo,
    latest_observation,
    model_directory,
    scoped,
)
from etl.read.stored import Span, version_contents


def _window(column: Any, since: datetime | None, until: datetime | None) -> ColumnElement[bool]:
    """``since < column <= until``; an open bound when None."""
    conditions: list[ColumnElement[bool]] = [column.is_not(None)]
    if since is not None:
        conditions.append(column > since)
    if until is not None:
        conditions.append(column <= until)
    return and_(*conditions)


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


_Read = Callable[[Any, Any], list[Any]]
"""Runs a query kept to the models read (the second argument is its model id column)."""


def _reader(connection: Connection, scope: Collection[int] | None, catalogs: CatalogScope) -> _Read:
    """How the queries below read rows: only those of the models in ``scope`` (every model
    when None) of the catalogs read, in bounded chunks."""

    def read(query: Any, column: Any) -> list[Any]:
        return [
            row
            for chunk in scoped(query, column, scope, catalogs)
            for row in connection.execute(chunk).all()
        ]

    return read


def _states_at_listing_events(
    read: _Read, since: datetime | None, until: datetime | None
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
        for model_id, moment, context, priced in read(
            version_query, model_availability_table.c.model_id
        ):
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
        for model_id, moment, component, amount, dynamic in read(
            price_query, model_availability_table.c.model_id
        ):
            prices[(model_id, moment)][component] = stored_price(amount, dynamic)
    return {
        key: (context, dict(prices.get(key, {})) if priced else None)
        for key, (context, priced) in versions.items()
    }


def _names(read: _Read, moment: datetime | None) -> dict[int, str | None]:
    """Each model's name as of ``moment`` (its latest name when None): reports name a model
    once, however many changes it has."""
    # Versions stay open while a model is away, so every model seen by then has one.
    query = select(model_versions_table.c.model_id, model_versions_table.c.name).where(
        valid_at(model_versions_table, moment)
    )
    return dict(read(query, model_versions_table.c.model_id))


def change_events(
    connection: Connection,
    since: datetime | None,
    until: datetime | None,
    filters: Filters = NO_FILTERS,
    sort: str | None = None,
    *,
    model_ids: Collection[int] | None = None,
    include_noise: bool = False,
    catalogs: CatalogScope | None = None,
) -> ChangeReport:
    """Every change observed in ``(since, until]`` (an open bound when None), with its time,
    in the catalogs read (all when None): models added, removed and returned, each new
    version's changed fields, and each price change (rounding noise apart, unless
    ``include_noise``). ``model_ids`` narrows it further (``history`` reads one model this
    way)."""
    sort = check_sort(sort, events=True)
    scope = catalogs or catalog_scope(connection)
    directory = model_directory(
        connection, filters, since, until, model_ids=model_ids, catalogs=scope
    )
    read = _reader(connection, _scope(directory, filters, model_ids), scope)
    model_events = _listing_events(read, directory, since, until)
    pairs = _version_pairs(read, since, until)
    contents = version_contents(connection, {i for row in pairs for i in row[1:3]})
    ended, started = _price_edges(read, since, until, filters)

    # What the rows above do not say: whether a model was priced when a component appeared
    # or vanished, and the state of models that came and went.
    states = _states_at_listing_events(read, since, until) if model_events else {}
    # A new model's first prices belong to its "added" entry, not to the price changes.
    for key in [k for k in started if k not in ended and k[2] == directory[k[0]].first_seen_at]:
        del started[key]
    priced = _priced_spans(connection, {key[0] for key in ended.keys() ^ started.keys()})
    who = _Names(directory, _names(read, until))
    sections = _model_changes(model_events, states, who)
    changes = _field_changes(pairs, contents, who)
    price_changes, noise = split_noise(
        _price_changes(ended, started, priced, who), include_noise=include_noise
    )
    return ChangeReport(
        since=since,
        until=until,
        since_observed_at=latest_observation(connection, since, scope) if since else None,
        until_observed_at=latest_observation(connection, until, scope),
        events=True,
        filters=filters,
        sort=sort,
        added=sorted_changes(sections["added"], sort),
        removed=sorted_changes(sections["removed"], sort),
        returned=sorted_changes(sections["returned"], sort),
        price_changes=sorted_changes(price_changes, sort),
        changes=sorted_changes(changes, sort),
        rounding_noise=sorted_changes(noise, sort),
        include_noise=include_noise,
        catalogs=observation_windows(connection, scope, since, until) if until else (),
    )


@dataclass(frozen=True)
class _Names:
    """How the changes of a model name it: its identity, and its catalog when named."""

    directory: Mapping[int, ModelInfo]
    names: Mapping[int, str | None]

    def ident(self, model_id: int) -> Ident:
        info = self.directory[model_id]
        return info.provider, info.model, info.vendor, self.names.get(model_id)

    def catalog(self, model_id: int) -> str | None:
        return self.directory[model_id].catalog


def _scope(
    directory: Mapping[int, ModelInfo], filters: Filters, model_ids: Collection[int] | None
) -> set[int] | None:
    """The models whose rows are read; None for every model."""
    scope: set[int] | None = set(directory) if filters.narrows_models else None
    if model_ids is not None:
        scope = set(model_ids) if scope is None else scope & set(model_ids)
    return scope


_ListingEvent = tuple[str, int, datetime]
"""``added``, ``removed`` or ``returned``, the model, and when."""


def _listing_events(
    read: _Read,
    directory: Mapping[int, ModelInfo],
    since: datetime | None,
    until: datetime | None,
) -> list[_ListingEvent]:
    """Availability: intervals opening or closing inside the window."""
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
    model_events: list[_ListingEvent] = []
    for model_id, start, end in read(availability, model_availability_table.c.model_id):
        if _inside(start, since, until):
            first = start == directory[model_id].first_seen_at
            model_events.append(("added" if first else "returned", model_id, start))
        if end is not None and _inside(end, since, until):
            model_events.append(("removed", model_id, end))
    return model_events


def _version_pairs(read: _Read, since: datetime | None, until: datetime | None) -> list[Any]:
    """Versions: each new version inside the window against the one it replaced, as rows of
    model id, new version id, old version id and when."""
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
    return read(pairs_query, current.c.model_id)


_PriceEdges = dict[tuple[int, str, datetime], PriceValue]
"""Prices by model, component and the time their row ended (or started)."""


def _price_edges(
    read: _Read, since: datetime | None, until: datetime | None, filters: Filters
) -> tuple[_PriceEdges, _PriceEdges]:
    """Prices: rows starting or ending inside the window, matched up by time (the prices
    that ended, then those that started)."""
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
    ended: _PriceEdges = {}
    started: _PriceEdges = {}
    for model_id, component, amount, dynamic, start, end in read(
        price_query, prices_table.c.model_id
    ):
        value = stored_price(amount, dynamic)
        if _inside(start, since, until):
            started[(model_id, component, start)] = value
        if end is not None and _inside(end, since, until):
            ended[(model_id, component, end)] = value
    return ended, started


def _model_changes(
    model_events: list[_ListingEvent],
    states: Mapping[tuple[int, datetime], _EventState],
    who: _Names,
) -> dict[str, list[ModelChange]]:
    """The models added, removed and returned, with their state at the event."""
    sections: dict[str, list[ModelChange]] = {"added": [], "removed": [], "returned": []}
    for kind, model_id, moment in model_events:
        # A removed model keeps its last version and prices open, so "at" shows them too.
        context, prices = states.get((model_id, moment), (None, None))
        sections[kind].append(
            ModelChange(kind, *who.ident(model_id), context, prices, moment, who.catalog(model_id))
        )
    return sections


def _field_changes(
    pairs: list[Any], contents: Mapping[int, Mapping[str, Any]], who: _Names
) -> list[FieldChange]:
    """What each new version changed (``pairs``: see :func:`_version_pairs`)."""
    return [
        change
        for model_id, new_id, old_id, moment in pairs
        for change in field_changes(
            who.ident(model_id), contents[old_id], contents[new_id], moment, who.catalog(model_id)
        )
    ]


def _price_changes(
    ended: _PriceEdges,
    started: _PriceEdges,
    priced: Mapping[int, list[Span]],
    who: _Names,
) -> list[PriceChange]:
    """Each component whose price differs across a row's end or start; a component with no
    row on one side was 0 when the model was priced then, None (unpriced) otherwise."""
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
                PriceChange(
                    *who.ident(model_id),
                    component,
                    old_price,
                    new_price,
                    moment,
                    who.catalog(model_id),
                )
            )
    return price_changes


def _inside(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment > since) and (until is None or moment <= until)
