"""Bulk inserts (etl.db.bulk): the driver-level paths store exactly what SQLAlchemy would.

Every test here runs on SQLite and on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, select

from etl.db.bulk import insert_returning_ids, insert_rows
from etl.db.engine import write_transaction
from etl.db.tables import models_table, prices_table, sync_runs_table, vendors_table
from etl.pipeline import sync_bytes
from etl.store.catalogs import ensure_catalog
from tests.helpers import make_model, payload

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def one_model(engine: Engine) -> tuple[int, int]:
    """(run id, model id) of a database holding one synced model."""
    result = sync_bytes(engine, payload([make_model()]), source="test", observed_at=T0)
    assert result.ok, result.error
    with engine.connect() as connection:
        return result.run_id, connection.execute(select(models_table.c.id)).scalar_one()


def test_values_come_back_exactly(engine: Engine) -> None:
    """Decimals beyond float precision, aware datetimes in any zone, booleans and nulls are
    read back equal to what was inserted."""
    run_id, model_id = one_model(engine)
    plus_two = timezone(timedelta(hours=2))
    rows = [
        {
            "model_id": model_id,
            "component": f"test-{index}",
            "amount": amount,
            "dynamic": amount is None,
            "valid_from": T0 - timedelta(days=10),
            "valid_to": (T0 - timedelta(days=index + 1)).astimezone(plus_two),
            "sync_run_id": run_id,
        }
        for index, amount in enumerate(
            [Decimal("0.00000008333333333333334"), None, Decimal("15"), Decimal("1E-30")]
        )
    ]
    with write_transaction(engine) as connection:
        insert_rows(connection, prices_table, rows)
    with engine.connect() as connection:
        stored = connection.execute(
            select(
                prices_table.c.component,
                prices_table.c.amount,
                prices_table.c.dynamic,
                prices_table.c.valid_from,
                prices_table.c.valid_to,
            )
            .where(prices_table.c.component.like("test-%"))
            .order_by(prices_table.c.component)
        ).all()
    assert [tuple(row) for row in stored] == [
        (r["component"], r["amount"], r["dynamic"], r["valid_from"], r["valid_to"]) for r in rows
    ]
    assert all(row.valid_to.utcoffset() == timedelta(0) for row in stored)


@pytest.mark.parametrize("batch", [2, 10_000])
def test_returned_ids_belong_to_their_rows(
    engine: Engine, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each returned id is the id of the row at the same position, across batch ends, and
    new ids follow the largest one in use even after rows were deleted."""
    monkeypatch.setattr("etl.db.bulk.BATCH", batch)
    names = ["zeta", "alpha", "mu", "beta", "omega"]
    with write_transaction(engine) as connection:
        first = insert_returning_ids(connection, vendors_table, [{"name": n} for n in names[:3]])
        connection.execute(delete(vendors_table).where(vendors_table.c.id == first[1]))
        second = insert_returning_ids(connection, vendors_table, [{"name": n} for n in names[3:]])
    with engine.connect() as connection:
        stored = dict(connection.execute(select(vendors_table.c.id, vendors_table.c.name)).all())
    assert {stored[i] for i in first if i in stored} == {"zeta", "mu"}
    assert [stored[i] for i in second] == ["beta", "omega"]
    assert min(second) > max(first)


def test_columns_left_out_get_their_python_defaults(engine: Engine) -> None:
    """A column the rows leave out gets the default the table declares, as with
    SQLAlchemy's own insert (a run's warnings default to an empty list)."""
    row = {"status": "failed", "default_provider": "openrouter", "started_at": T0, "error": None}
    row["catalog_id"] = ensure_catalog(engine, "default")
    with write_transaction(engine) as connection:
        insert_rows(connection, sync_runs_table, [row, {**row, "error": "boom"}])
    with engine.connect() as connection:
        stored = connection.execute(
            select(sync_runs_table.c.warnings, sync_runs_table.c.error, sync_runs_table.c.added)
        ).all()
    assert [tuple(r) for r in stored] == [([], None, 0), ([], "boom", 0)]
