"""Bulk inserts: the rows of a sync in as few round trips as the database allows.

SQLAlchemy's ``executemany`` costs tens of microseconds of Python per row (it copies and
processes every parameter set), and a first load of 100,000 models writes over 800,000 rows.
So on PostgreSQL rows go through ``COPY ... FROM STDIN`` (psycopg 3), and elsewhere (SQLite)
through the driver's own ``executemany`` of tuples, each column's value converted once by its
type's bind processor, in batches of :data:`BATCH` rows. Ids that the caller needs are
reserved first, in one query: from the table's sequence on PostgreSQL, after the largest id
on SQLite (a writer holds the database's write lock for its whole transaction).

Table and column names come from the metadata, never from data; values travel as COPY data
or bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnDefault, Connection, Table, func, insert, select, text
from sqlalchemy.exc import DBAPIError

BATCH = 10_000
"""Rows per ``executemany`` on SQLite."""
COPY_FROM = 20
"""Rows from which COPY beats a plain multi-row INSERT on PostgreSQL (it costs a round trip
of its own to set up)."""
CHUNK = 5000
"""Ids per ``IN (...)`` list: well under SQLite's 32,766 bound variables."""
T = TypeVar("T")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ensure_names(
    connection: Connection,
    table: Table,
    names: Iterable[str],
    *,
    scope: Mapping[str, Any] | None = None,
    **defaults: Any,
) -> dict[str, int]:
    """Ids of the named rows of a lookup table, inserting the missing ones. ``scope``: the
    columns that, with the name, make a row unique ({"catalog_id": 1} for providers)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    scope = scope or {}
    ids: dict[str, int] = {}
    for chunk in chunked(wanted):
        query = select(table.c.name, table.c.id).where(
            table.c.name.in_(chunk), *(table.c[column] == value for column, value in scope.items())
        )
        ids.update((name, id_) for name, id_ in connection.execute(query))
    missing = [name for name in wanted if name not in ids]
    if missing:
        inserted = connection.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{"name": name, **scope, **defaults} for name in missing],
        )
        ids.update(zip(missing, inserted.scalars(), strict=True))
    return ids


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    rows = _with_defaults(table, rows)
    if connection.dialect.name == "postgresql" and len(rows) > COPY_FROM:
        _copy(connection, table, rows)
    elif connection.dialect.name == "postgresql":
        connection.execute(insert(table), list(rows))
    else:
        _executemany(connection, table, rows)


def insert_returning_ids(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``rows`` and return their new ids, in the order of ``rows``."""
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        reserve = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        query = connection.execute(reserve, {"table": table.name, "n": len(rows)})
        ids = list(query.scalars())
    else:
        last = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        ids = list(range(last + 1, last + 1 + len(rows)))
    with_ids = [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
    insert_rows(connection, table, with_ids)
    return ids


def _with_defaults(table: Table, rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """``rows`` with the Python-side defaults of the columns they leave out, which only
    SQLAlchemy's own insert would apply."""
    defaults: dict[str, ColumnDefault] = {}
    for column in table.c:
        if column.name in rows[0] or column.default is None:
            continue
        default = column.default
        if not isinstance(default, ColumnDefault) or default.is_clause_element:
            raise ValueError(f"{table.name}.{column.name}: give its value, it has no plain default")
        defaults[column.name] = default
    if not defaults:
        return rows
    return [
        {
            **{
                name: default.arg(None) if default.is_callable else default.arg
                for name, default in defaults.items()
            },
            **row,
        }
        for row in rows
    ]


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


def _executemany(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(rows[0]))
    names = compiled.positiontup
    if names is None:  # SQLite's and MariaDB's drivers take positional placeholders
        raise NotImplementedError(f"bulk insert: {dialect.driver} uses named placeholders")
    converters = [
        (index, _repeat_aware(processor))
        for index, name in enumerate(names)
        if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    for batch in chunked(rows, BATCH):
        values = [[row[name] for name in names] for row in batch]
        for row_values in values:
            for index, convert in converters:
                row_values[index] = convert(row_values[index])
        connection.exec_driver_sql(compiled.string, [tuple(row_values) for row_values in values])


def _repeat_aware(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert``, computed once for a run of the same object (every row of a sync carries
    the same observation time)."""
    last: list[Any] = [_UNSET, None]

    def run(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return run


_UNSET = object()
