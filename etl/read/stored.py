"""Stored rows as more than one report reads them: an interval with its value (Span), and
the tracked content of model versions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select

from etl.db.state import read_capabilities
from etl.db.tables import model_versions_table
from etl.ingest.money import canonical
from etl.ingest.normalize import SCALAR_FIELDS
from etl.read.queries import scoped


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
