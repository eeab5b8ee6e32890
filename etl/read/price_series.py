"""Price series for charts: each component of each model as steps over time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from etl.db.state import PRICE_INTERVAL_COLUMNS, stored_price
from etl.db.tables import (
    model_availability_table,
    model_versions_table,
    models_table,
    prices_table,
    providers_table,
    sync_runs_table,
)
from etl.ingest.money import Price as PriceValue
from etl.ingest.money import price_text
from etl.read.catalogs import named
from etl.read.queries import ZERO, ModelInfo
from etl.read.stored import Span
from etl.read.units import component_order, unit
from etl.times import iso


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
        catalog = f"{self.info.catalog}: " if self.info.catalog else ""
        return f"{catalog}{self.info.model} {self.component}"

    def to_json(self) -> dict[str, Any]:
        return named(self.info.catalog) | {
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
    (default: when the model was first seen) and ``until`` (default: the latest observation
    of its catalog). Four queries, whatever the number of models."""
    ids = [info.id for info in models]
    if not ids:
        return []
    ends = {info.id: until for info in models} if until else _latest_observations(connection, ids)
    versions, listed, rows = _stored_spans(connection, ids)

    series = []
    for info in models:
        start = max(since, info.first_seen_at) if since else info.first_seen_at
        end = ends.get(info.id)
        if end is None or start >= end:
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


def _latest_observations(connection: Connection, ids: Collection[int]) -> dict[int, datetime]:
    """The latest successful observation of each model's catalog, by model id."""
    runs = sync_runs_table.c
    latest = (
        select(runs.catalog_id, func.max(runs.observed_at).label("observed_at"))
        .where(runs.status == "succeeded")
        .group_by(runs.catalog_id)
        .subquery()
    )
    rows = connection.execute(
        select(models_table.c.id, latest.c.observed_at)
        .join(providers_table, providers_table.c.id == models_table.c.provider_id)
        .join(latest, latest.c.catalog_id == providers_table.c.catalog_id)
        .where(models_table.c.id.in_(ids))
    )
    return dict(rows.all())


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
