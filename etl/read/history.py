"""One model's timeline, and price series for charts: read-only queries on the history.

A timeline is built from :func:`etl.read.change_events.change_events` over all time, narrowed
to the model, plus the stored intervals themselves, so ``history`` and ``diff --events`` cannot
disagree about what changed when.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from etl.db.state import PRICE_INTERVAL_COLUMNS, stored_price
from etl.db.tables import model_availability_table, model_versions_table, prices_table
from etl.ingest.money import Price as PriceValue
from etl.ingest.money import price_text
from etl.read.change_events import change_events
from etl.read.changes import ChangeReport, FieldChange
from etl.read.queries import ZERO, ModelInfo, latest_observation, model_directory
from etl.read.stored import Span
from etl.read.units import component_order, decimal_text, per_million, unit
from etl.times import iso

_IDENTITY = frozenset({"provider", "model", "vendor", "name", "at"})
"""Keys a timeline states once, not on each of its changes."""


class ModelNotFound(LookupError):
    """No stored model has that id (or it is ambiguous across providers)."""


def find_model(connection: Connection, model: str, provider: str | None = None) -> ModelInfo:
    """The stored model with this upstream id (and provider, when several gateways list it)."""
    found = [
        info
        for info in model_directory(connection, model=model).values()
        if provider is None or info.provider == provider
    ]
    if len(found) == 1:
        return found[0]
    if found:
        providers = ", ".join(info.provider for info in found)
        raise ModelNotFound(f"{model} is listed by several providers ({providers}): pick one")
    known = sorted({info.model for info in model_directory(connection).values()})
    close = difflib.get_close_matches(model, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ModelNotFound(f"no model {model!r} in the history{hint}")


@dataclass(frozen=True)
class AvailabilitySpan:
    available_from: datetime
    available_until: datetime | None
    """The first observation that no longer listed it; None while listed."""
    last_seen_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "from": iso(self.available_from),
            "until": iso(self.available_until) if self.available_until else None,
            "last_seen_at": iso(self.last_seen_at) if self.last_seen_at else None,
        }


@dataclass(frozen=True)
class VersionEntry:
    version: int
    valid_from: datetime
    valid_to: datetime | None
    name: str | None
    context_length: int | None
    changes: tuple[FieldChange, ...]
    """What differs from the previous version; empty for the first."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to) if self.valid_to else None,
            "name": self.name,
            "context_length": self.context_length,
            "changes": [
                {k: v for k, v in c.to_json().items() if k not in _IDENTITY} for c in self.changes
            ],
        }


@dataclass(frozen=True)
class PriceInterval:
    """A stored price row: one non-zero component over an interval."""

    component: str
    price: PriceValue
    valid_from: datetime
    valid_to: datetime | None

    @property
    def unit(self) -> str:
        return unit(self.component)

    @property
    def per_million(self) -> Decimal | None:
        return per_million(self.price, self.component)

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "unit": self.unit,
            "price": price_text(self.price),
            "per_million": decimal_text(self.per_million),
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to) if self.valid_to else None,
        }


@dataclass(frozen=True)
class ModelHistory:
    info: ModelInfo
    name: str | None
    """The latest name."""
    availability: tuple[AvailabilitySpan, ...]
    versions: tuple[VersionEntry, ...]
    prices: tuple[PriceInterval, ...]
    events: ChangeReport
    """Every change of the model, with its time (price changes included)."""

    def to_json(self) -> dict[str, Any]:
        info = self.info
        return {
            "provider": info.provider,
            "model": info.model,
            "vendor": info.vendor,
            "name": self.name,
            "first_seen_at": iso(info.first_seen_at),
            "last_seen_at": iso(info.last_seen_at),
            "available": info.available,
            "availability": [span.to_json() for span in self.availability],
            "versions": [version.to_json() for version in self.versions],
            "prices": [interval.to_json() for interval in self.prices],
            **{
                section: [
                    {k: v for k, v in change.to_json().items() if k not in _IDENTITY - {"at"}}
                    for change in getattr(self.events, section)
                ]
                for section in ("price_changes", "rounding_noise")
            },
        }


def model_history(
    connection: Connection, model: str, provider: str | None = None, *, include_noise: bool = False
) -> ModelHistory:
    """The whole timeline of one model: availability, versions with what changed, prices
    (price changes that are rounding noise apart, unless ``include_noise``)."""
    info = find_model(connection, model, provider)
    events = change_events(
        connection, None, None, model_ids=[info.id], sort="time", include_noise=include_noise
    )
    availability = tuple(
        AvailabilitySpan(row.valid_from, row.valid_to, row.last_seen_at)
        for row in connection.execute(
            select(
                model_availability_table.c.valid_from,
                model_availability_table.c.valid_to,
                model_availability_table.c.last_seen_at,
            )
            .where(model_availability_table.c.model_id == info.id)
            .order_by(model_availability_table.c.valid_from)
        )
    )
    changes_at: dict[datetime, list[FieldChange]] = defaultdict(list)
    for change in events.changes:
        assert change.at is not None  # events always carry their time
        changes_at[change.at].append(change)
    versions = tuple(
        VersionEntry(
            row.version,
            row.valid_from,
            row.valid_to,
            row.name,
            row.context_length,
            tuple(changes_at.get(row.valid_from, ())) if row.version > 1 else (),
        )
        for row in connection.execute(
            select(
                model_versions_table.c.version,
                model_versions_table.c.valid_from,
                model_versions_table.c.valid_to,
                model_versions_table.c.name,
                model_versions_table.c.context_length,
            )
            .where(model_versions_table.c.model_id == info.id)
            .order_by(model_versions_table.c.version)
        )
    )
    prices = sorted(
        (
            PriceInterval(
                row.component, stored_price(row.amount, row.dynamic), row.valid_from, row.valid_to
            )
            for row in connection.execute(
                select(*PRICE_INTERVAL_COLUMNS).where(prices_table.c.model_id == info.id)
            )
        ),
        key=lambda interval: (component_order(interval.component), interval.valid_from),
    )
    name = versions[-1].name if versions else None
    return ModelHistory(info, name, availability, versions, tuple(prices), events)


# --- Price series -----------------------------------------------------------------------


@dataclass(frozen=True)
class PriceSeries:
    """One component of one model over time, as steps.

    Each point is ``(time, value)``: the value holds from that time until the next point
    (or ``end``). A value is an exact price per unit (``0`` for a component a priced model
    does not list), ``"dynamic"``, or None while the model is unlisted or unpriced.
    """

    info: ModelInfo
    name: str | None
    component: str
    points: tuple[tuple[datetime, PriceValue | None], ...]
    end: datetime

    @property
    def unit(self) -> str:
        return unit(self.component)

    @property
    def label(self) -> str:
        return f"{self.info.model} {self.component}"

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.info.provider,
            "model": self.info.model,
            "component": self.component,
            "unit": self.unit,
            "points": [
                [iso(moment), None if value is None else price_text(value)]
                for moment, value in self.points
            ],
            "end": iso(self.end),
        }


def price_series(
    connection: Connection,
    models: Sequence[ModelInfo],
    components: Collection[str] | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PriceSeries]:
    """Step series of each model's components (all it ever had when None) between ``since``
    (default: when the model was first seen) and ``until`` (default: the latest observation).
    Three queries, whatever the number of models."""
    ids = [info.id for info in models]
    end = until or latest_observation(connection)
    if not ids or end is None:
        return []
    versions, listed, rows = _stored_spans(connection, ids)

    series = []
    for info in models:
        start = max(since, info.first_seen_at) if since else info.first_seen_at
        if start >= end:
            continue
        wanted = components or sorted(
            {component for model_id, component in rows if model_id == info.id},
            key=component_order,
        )
        latest = max(versions[info.id], key=lambda v: v.valid_from, default=None)
        for component in wanted:
            spans = rows.get((info.id, component), [])
            points = _steps(start, end, versions[info.id], listed[info.id], spans)
            name = latest.value.name if latest else None
            series.append(PriceSeries(info, name, component, points, end))
    return series


def _stored_spans(
    connection: Connection, ids: Collection[int]
) -> tuple[
    defaultdict[int, list[Span]],
    defaultdict[int, list[Span]],
    defaultdict[tuple[int, str], list[Span]],
]:
    """The models' versions (each span's value its row), availability intervals, and price
    rows by model and component: one query each."""
    versions: defaultdict[int, list[Span]] = defaultdict(list)
    listed: defaultdict[int, list[Span]] = defaultdict(list)
    rows: defaultdict[tuple[int, str], list[Span]] = defaultdict(list)
    for row in connection.execute(
        select(
            model_versions_table.c.model_id,
            model_versions_table.c.valid_from,
            model_versions_table.c.valid_to,
            model_versions_table.c.priced,
            model_versions_table.c.name,
        ).where(model_versions_table.c.model_id.in_(ids))
    ):
        versions[row.model_id].append(Span(row.valid_from, row.valid_to, row))
    for span in connection.execute(
        select(
            model_availability_table.c.model_id,
            model_availability_table.c.valid_from,
            model_availability_table.c.valid_to,
        ).where(model_availability_table.c.model_id.in_(ids))
    ):
        listed[span.model_id].append(Span(span.valid_from, span.valid_to, True))
    for price in connection.execute(
        select(*PRICE_INTERVAL_COLUMNS).where(prices_table.c.model_id.in_(ids))
    ):
        amount = stored_price(price.amount, price.dynamic)
        rows[(price.model_id, price.component)].append(
            Span(price.valid_from, price.valid_to, amount)
        )
    return versions, listed, rows


def _steps(
    start: datetime,
    end: datetime,
    versions: list[Span],
    listed: list[Span],
    spans: list[Span],
) -> tuple[tuple[datetime, PriceValue | None], ...]:
    """One component's points from ``start`` to ``end``: its value at each edge of an
    interval in between, kept where it differs from the point before."""
    edges = {start}
    for interval in (*versions, *listed, *spans):
        ends = (interval.valid_from, interval.valid_to)
        edges |= {t for t in ends if t and start < t < end}
    points: list[tuple[datetime, PriceValue | None]] = []
    for moment in sorted(edges):
        value = _value_at(moment, versions, listed, spans)
        if not points or points[-1][1] != value:
            points.append((moment, value))
    return tuple(points)


def _value_at(
    moment: datetime,
    versions: list[Span],
    listed: list[Span],
    spans: list[Span],
) -> PriceValue | None:
    if not any(interval.holds_at(moment) for interval in listed):
        return None
    version = next((v.value for v in versions if v.holds_at(moment)), None)
    if version is None or not version.priced:
        return None
    return next((s.value for s in spans if s.holds_at(moment)), ZERO)
