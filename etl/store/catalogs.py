"""Catalogs: the named sources a database holds the history of, each on its own.

A database made before catalogs had names holds one, ``default``; a sync that names none
belongs to it. A name is created by the first sync that uses it.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from etl.config import DEFAULT_CATALOG as DEFAULT_CATALOG
from etl.config import check_catalog_name
from etl.db.tables import catalogs_table
from etl.times import utcnow


def ensure_catalog(engine: Engine, name: str) -> int:
    """The id of catalog ``name``, created (in a transaction of its own) if new."""
    check_catalog_name(name)
    with engine.connect() as connection:
        found = _find(connection, name)
    if found is not None:
        return found
    try:
        with engine.begin() as connection:
            created: int = connection.execute(
                insert(catalogs_table)
                .values(name=name, created_at=utcnow())
                .returning(catalogs_table.c.id)
            ).scalar_one()
            return created
    except IntegrityError:  # created meanwhile by another process
        with engine.connect() as connection:
            again = _find(connection, name)
        if again is None:
            raise
        return again


def _find(connection: Connection, name: str) -> int | None:
    """The id of catalog ``name``; None when there is none by that name."""
    found: int | None = connection.execute(
        select(catalogs_table.c.id).where(catalogs_table.c.name == name)
    ).scalar()
    return found
