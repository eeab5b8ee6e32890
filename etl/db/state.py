"""Read models' stored states back, current or as of a time, a few set queries at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    String,
    and_,
    literal,
    or_,
    select,
    union_all,
)

from etl.db.bulk import chunked
from etl.db.tables import (
    capability_categories_table,
    capability_modalities_table,
    capability_parameters_table,
    categories_table,
    modalities_table,
    model_versions_table,
    parameters_table,
    prices_table,
)
from etl.ingest.money import DYNAMIC, canonical
from etl.ingest.money import Price as PriceValue
from etl.ingest.normalize import SCALAR_FIELDS, SET_FIELDS, ModelState


def stored_price(amount: Decimal | None, dynamic: bool) -> PriceValue:
    """A price row's value; a check constraint keeps ``amount`` set unless ``dynamic``."""
    return DYNAMIC if dynamic or amount is None else amount


PRICE_INTERVAL_COLUMNS = (
    prices_table.c.model_id,
    prices_table.c.component,
    prices_table.c.amount,
    prices_table.c.dynamic,
    prices_table.c.valid_from,
    prices_table.c.valid_to,
)
"""A price row as an interval of a model's component (its value: :func:`stored_price`)."""


def valid_at(table: FromClause, moment: datetime | None) -> ColumnElement[bool]:
    """Rows in force at ``moment``; the current rows when it is None."""
    valid_from, valid_to = table.c.valid_from, table.c.valid_to
    if moment is None:
        return valid_to.is_(None)
    return and_(valid_from <= moment, or_(valid_to.is_(None), valid_to > moment))


@dataclass(frozen=True)
class StoredModel:
    model_id: int
    version_id: int
    version: int
    state: ModelState
    price_row_ids: dict[str, int]


def read_stored(
    connection: Connection,
    model_ids: Collection[int] | None = None,
    *,
    as_of: datetime | None = None,
) -> dict[int, StoredModel]:
    """The state of the given models (all when None) as of a time (now when None)."""
    versions: list[Any] = []
    prices: dict[int, dict[str, tuple[int, PriceValue]]] = defaultdict(dict)
    version_query = select(model_versions_table).where(valid_at(model_versions_table, as_of))
    price_query = select(
        prices_table.c.id,
        prices_table.c.model_id,
        prices_table.c.component,
        prices_table.c.amount,
        prices_table.c.dynamic,
    )
    price_query = price_query.where(valid_at(prices_table, as_of))
    for query_filter in _id_filters(model_ids):
        versions += connection.execute(
            query_filter(version_query, model_versions_table.c.model_id)
        ).all()
        for row in connection.execute(query_filter(price_query, prices_table.c.model_id)).all():
            prices[row.model_id][row.component] = (row.id, stored_price(row.amount, row.dynamic))

    sets = read_capabilities(connection, {row.capability_set_id for row in versions})
    stored = {}
    for row in versions:
        content: dict[str, Any] = {name: getattr(row, name) for name in SCALAR_FIELDS}
        if row.pricing_discount is not None:
            content["pricing_discount"] = canonical(row.pricing_discount)
        content.update(sets[row.capability_set_id])
        content["extra"] = row.extra or {}
        model_prices = prices.get(row.model_id, {})
        stored[row.model_id] = StoredModel(
            model_id=row.model_id,
            version_id=row.id,
            version=row.version,
            state=ModelState(content, {k: value for k, (_, value) in model_prices.items()}),
            price_row_ids={k: row_id for k, (row_id, _) in model_prices.items()},
        )
    return stored


def _id_filters(model_ids: Collection[int] | None) -> Iterator[Any]:
    if model_ids is None:
        yield lambda query, _column: query
        return
    for chunk in chunked(sorted(model_ids)):
        yield lambda query, column, chunk=chunk: query.where(column.in_(chunk))


_MODALITY_FIELDS = {"input": "input_modalities", "output": "output_modalities"}


def read_capabilities(
    connection: Connection, set_ids: Collection[int]
) -> dict[int, dict[str, tuple[str, ...]]]:
    """The modalities, parameters and categories of capability sets, as sorted tuples."""
    sets: dict[int, dict[str, list[str]]] = {
        set_id: {name: [] for name in SET_FIELDS} for set_id in set_ids
    }
    link = capability_modalities_table
    members = (
        select(link.c.capability_set_id, link.c.direction, modalities_table.c.name).join(
            modalities_table
        ),
        *(
            select(table.c.capability_set_id, literal(field, String), lookup.c.name).join(lookup)
            for table, lookup, field in (
                (capability_parameters_table, parameters_table, "supported_parameters"),
                (capability_categories_table, categories_table, "categories"),
            )
        ),
    )
    for chunk in chunked(sorted(set_ids)):
        # One statement, not three: each costs a small sync a compile and a round trip.
        query = union_all(*(q.where(q.selected_columns[0].in_(chunk)) for q in members))
        for set_id, field, name in connection.execute(query).all():
            sets[set_id][_MODALITY_FIELDS.get(field, field)].append(name)
    return {
        set_id: {field: tuple(sorted(names)) for field, names in found.items()}
        for set_id, found in sets.items()
    }
