"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`ExactDecimal` - SQLite's NUMERIC affinity silently turns decimals into floats,
  so on SQLite an amount is stored as its canonical decimal text; PostgreSQL gets a real
  unconstrained ``NUMERIC``. Python always sees :class:`~decimal.Decimal`.
* :class:`UTCDateTime` - aware UTC datetimes in, aware UTC datetimes out.
* :data:`JSONDocument` - JSON, as ``JSONB`` on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

from etl.ingest.money import canonical
from etl.times import as_utc


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal of any scale; never a float on any backend."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql  # here: only MariaDB users pay for it

            return dialect.type_descriptor(mysql.DECIMAL(precision=65, scale=30))
        return dialect.type_descriptor(postgresql.NUMERIC())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return canonical(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC, read back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql

            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite and MariaDB have no zone: the stored text is UTC by convention.
        return value.replace(tzinfo=None) if dialect.name != "postgresql" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


JSONDocument = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
