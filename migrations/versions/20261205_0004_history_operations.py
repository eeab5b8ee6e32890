"""History under real operation: 64-bit keys, tick claims, held providers, forgotten runs.

* Every table that grows with time gets a 64-bit primary key (and so do the columns that
  point at one): a long-running service must never run out of ids. On SQLite an
  ``INTEGER PRIMARY KEY`` is 64 bits already; PostgreSQL's columns and sequences widen.
* ``sync_runs.tick_at``, unique when set: the scheduled tick a ``serve`` replica claimed
  before fetching, so that one replica per tick contacts the upstream.
* ``sync_runs.held_providers``: the providers whose part of a catalog the mass-removal guard
  held, with the reason.
* ``sync_runs.status`` may be ``forgotten`` (``catalog-etl runs forget``).
* ``models.source_hash_at``: when the model's fingerprint was set, so that rewinding the
  history clears only the fingerprints set after the rewind point.

The analyst views read these tables, so they are dropped first and created again at the
end (PostgreSQL cannot change the type of a column a view reads; SQLite cannot rebuild a
table a view reads).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import etl.db.types
from etl.db.views import ANALYST_VIEWS

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROWING = (
    "sync_runs",
    "services",
    "provider_states",
    "models",
    "model_versions",
    "capability_sets",
    "prices",
    "model_availability",
)
POINTERS = (
    ("provider_states", "sync_run_id"),
    ("model_versions", "sync_run_id"),
    ("prices", "sync_run_id"),
    ("model_availability", "sync_run_id"),
    ("model_versions", "model_id"),
    ("prices", "model_id"),
    ("model_availability", "model_id"),
    ("model_versions", "capability_set_id"),
    ("capability_modalities", "capability_set_id"),
    ("capability_categories", "capability_set_id"),
    ("capability_parameters", "capability_set_id"),
)
STATUSES = ("running", "succeeded", "failed", "held", "skipped")
WHERE_TICK = sa.text("tick_at IS NOT NULL")


def _statuses(values: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def _key_type(type_: str) -> None:
    """Widen (or narrow) the keys on PostgreSQL, sequences included."""
    for table in GROWING:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE {type_}")
        op.execute(
            f"DO $$ BEGIN EXECUTE 'ALTER SEQUENCE ' || pg_get_serial_sequence('{table}', 'id')"
            f" || ' AS {type_}'; END $$"
        )
    for table, column in POINTERS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_}")


def _status_check(values: Sequence[str]) -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_constraint(op.f("ck_sync_runs_status"), type_="check")
        batch.create_check_constraint("status", _statuses(values))


def upgrade() -> None:
    """Widen the keys; add the tick claim, held providers and the forgotten status."""
    dialect = op.get_context().dialect.name
    for view in reversed(ANALYST_VIEWS):
        op.execute(view.drop())
    if dialect == "postgresql":
        _key_type("BIGINT")
    op.add_column("sync_runs", sa.Column("held_providers", etl.db.types.JSONDocument))
    op.add_column("sync_runs", sa.Column("tick_at", etl.db.types.UTCDateTime()))
    op.add_column("models", sa.Column("source_hash_at", etl.db.types.UTCDateTime()))
    _status_check((*STATUSES, "forgotten"))
    op.create_index(
        "uq_sync_runs_tick_at",
        "sync_runs",
        ["tick_at"],
        unique=True,
        sqlite_where=WHERE_TICK,
        postgresql_where=WHERE_TICK,
    )
    for view in ANALYST_VIEWS:
        op.execute(view.create(dialect))


def downgrade() -> None:
    """Back to 32-bit keys and revision 0003 (forgotten runs become failed ones)."""
    dialect = op.get_context().dialect.name
    for view in reversed(ANALYST_VIEWS):
        op.execute(view.drop())
    op.drop_index("uq_sync_runs_tick_at", table_name="sync_runs")
    op.execute("UPDATE sync_runs SET status = 'failed' WHERE status = 'forgotten'")
    _status_check(STATUSES)
    with op.batch_alter_table("models") as batch:
        batch.drop_column("source_hash_at")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("tick_at")
        batch.drop_column("held_providers")
    if dialect == "postgresql":
        _key_type("INTEGER")
    for view in ANALYST_VIEWS:
        op.execute(view.create(dialect))
