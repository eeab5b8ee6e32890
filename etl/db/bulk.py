"""Bulk inserts: the rows of a sync in as few round trips as the database allows.

On PostgreSQL rows go through ``COPY ... FROM STDIN`` (psycopg 3): an ``executemany`` of
INSERTs costs tens of microseconds of Python per row, COPY a few. Ids that the caller needs
are reserved from the table's sequence first, in one query. Elsewhere (SQLite) it is
SQLAlchemy's ``executemany``, with ``RETURNING`` for ids, in batches of :data:`BATCH` rows:
SQLAlchemy copies every parameter set it is given, and a first load of 100,000 models
writes over half a million rows.

Table and column names come from the metadata, never from data; values travel as COPY data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table, insert, text
from sqlalchemy.exc import DBAPIError

from etl.db.tables import Base

BATCH = 10_000
"""Rows per ``executemany`` on SQLite."""
CHUNK = 5000
"""Ids per ``IN (...)`` list: well under SQLite's 32,766 bound variables."""
T = TypeVar("T")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_rows(
    connection: Connection, entity: type[Base], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (dicts with the same keys) into the table of ``entity``."""
    if not rows:
        return
    table = _table(entity)
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
    else:
        for batch in chunked(rows, BATCH):
            connection.execute(insert(table), list(batch))


def insert_returning_ids(
    connection: Connection, entity: type[Base], rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``rows`` and return their new ids, in the order of ``rows``."""
    if not rows:
        return []
    table = _table(entity)
    if connection.dialect.name != "postgresql":
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids: list[int] = []
        for batch in chunked(rows, BATCH):
            ids += connection.execute(statement, list(batch)).scalars()
        return ids
    reserve = text(
        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
    )
    reserved = list(connection.execute(reserve, {"table": table.name, "n": len(rows)}).scalars())
    _copy(connection, table, [{**row, "id": id_} for row, id_ in zip(rows, reserved, strict=True)])
    return reserved


def _table(entity: type[Base]) -> Table:
    return cast(Table, entity.__table__)


def _copy(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb

    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    json_columns = {
        index
        for index, name in enumerate(columns)
        if table.c[name].type.dialect_impl(connection.dialect).__visit_name__ in ("JSONB", "JSON")
    }
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row[name] for name in columns]
                for index in json_columns:
                    if values[index] is not None:
                        values[index] = Jsonb(values[index])
                copy.write_row(values)
    except psycopg.Error as error:
        # The same exception SQLAlchemy raises for its own statements (IntegrityError ...).
        raise DBAPIError.instance(
            statement.as_string(driver), None, error, psycopg.Error, dialect=connection.dialect
        ) from error
