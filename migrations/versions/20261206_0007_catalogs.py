"""Named catalogs: ``catalogs``, ``sync_runs.catalog_id``, ``providers.catalog_id`` and
``models.match_key``; the analyst views name each row's catalog, and ``cross_catalog_prices``
compares them.

Every existing run and provider goes to catalog ``default``, so a database of one
catalog reads and syncs on as before. A provider is unique per catalog now, not per
database, and so is a serve tick. The match key of existing models is computed here by the
same function the sync uses (etl.ingest.match).

Written by hand and reviewed. SQLite rebuilds the altered tables (batch mode), so the views
are dropped first and created again at the end.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from etl.db.catalog_views import CATALOG_VIEWS
from etl.db.types import UTCDateTime
from etl.db.views import ANALYST_VIEWS
from etl.ingest.match import match_key

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE_TICK = sa.text("tick_at IS NOT NULL")
_BATCH = 5000


def upgrade() -> None:
    """Put everything in catalog ``default``."""
    for view in reversed(ANALYST_VIEWS):
        op.execute(view.drop())
    catalogs = op.create_table(
        "catalogs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogs")),
        sa.UniqueConstraint("name", name=op.f("uq_catalogs_name")),
    )
    op.execute(
        catalogs.insert().values(
            name="default",
            created_at=sa.func.coalesce(
                sa.select(sa.func.min(sa.column("started_at")))
                .select_from(sa.table("sync_runs"))
                .scalar_subquery(),
                sa.func.current_timestamp(),
            ),
        )
    )
    op.drop_index("uq_sync_runs_tick_at", table_name="sync_runs")
    _add_catalog("sync_runs", drop_index="ix_sync_runs_status_observed_at")
    with op.batch_alter_table("sync_runs") as batch:
        batch.create_index(
            "ix_sync_runs_catalog_id_status_observed_at", ["catalog_id", "status", "observed_at"]
        )
    op.create_index(
        "uq_sync_runs_catalog_id_tick_at",
        "sync_runs",
        ["catalog_id", "tick_at"],
        unique=True,
        sqlite_where=WHERE_TICK,
        postgresql_where=WHERE_TICK,
    )
    _add_catalog("providers", drop_unique="uq_providers_name")
    with op.batch_alter_table("providers") as batch:
        batch.create_unique_constraint(op.f("uq_providers_catalog_id"), ["catalog_id", "name"])
    _add_match_keys()
    dialect = op.get_context().dialect.name
    for view in CATALOG_VIEWS:
        op.execute(view.create(dialect))


def _add_catalog(table: str, *, drop_index: str = "", drop_unique: str = "") -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("catalog_id", sa.Integer(), nullable=True))
    default = "(SELECT id FROM catalogs WHERE name = 'default')"
    op.execute(sa.text(f"UPDATE {table} SET catalog_id = {default}"))  # constants only
    with op.batch_alter_table(table) as batch:
        batch.alter_column("catalog_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f(f"fk_{table}_catalog_id_catalogs"), "catalogs", ["catalog_id"], ["id"]
        )
        if drop_index:
            batch.drop_index(drop_index)
        if drop_unique:
            batch.drop_constraint(drop_unique, type_="unique")


def _add_match_keys() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("match_key", sa.String(length=512), nullable=True))
    models, providers = sa.table("models", sa.column("id"), sa.column("model"), sa.column("match_key"), sa.column("provider_id")), sa.table("providers", sa.column("id"), sa.column("name"))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(models.c.id, models.c.model, providers.c.name).join(
            providers, providers.c.id == models.c.provider_id
        )
    ).all()
    update = (
        models.update()
        .where(models.c.id == sa.bindparam("model_id"))
        .values(match_key=sa.bindparam("key"))
    )
    for start in range(0, len(rows), _BATCH):
        connection.execute(
            update,
            [
                {"model_id": model_id, "key": match_key(model, provider)}
                for model_id, model, provider in rows[start : start + _BATCH]
            ],
        )
    with op.batch_alter_table("models") as batch:
        batch.alter_column("match_key", existing_type=sa.String(length=512), nullable=False)
        batch.create_index("ix_models_match_key", ["match_key"])


def downgrade() -> None:
    """Back to one unnamed catalog: refused when the database holds more than one."""
    connection = op.get_bind()
    names = connection.execute(sa.text("SELECT name FROM catalogs ORDER BY id")).scalars().all()
    if len(names) > 1:
        raise RuntimeError(
            f"cannot downgrade below revision 0007: the database holds {len(names)} catalogs"
            f" ({', '.join(names)}), and earlier revisions hold one"
        )
    for view in reversed(CATALOG_VIEWS):
        op.execute(view.drop())
    with op.batch_alter_table("models") as batch:
        batch.drop_index("ix_models_match_key")
        batch.drop_column("match_key")
    with op.batch_alter_table("providers") as batch:
        batch.drop_constraint(op.f("uq_providers_catalog_id"), type_="unique")
        batch.drop_constraint(op.f("fk_providers_catalog_id_catalogs"), type_="foreignkey")
        batch.drop_column("catalog_id")
        batch.create_unique_constraint(op.f("uq_providers_name"), ["name"])
    op.drop_index("uq_sync_runs_catalog_id_tick_at", table_name="sync_runs")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_index("ix_sync_runs_catalog_id_status_observed_at")
        batch.drop_constraint(op.f("fk_sync_runs_catalog_id_catalogs"), type_="foreignkey")
        batch.drop_column("catalog_id")
        batch.create_index("ix_sync_runs_status_observed_at", ["status", "observed_at"])
    op.create_index(
        "uq_sync_runs_tick_at",
        "sync_runs",
        ["tick_at"],
        unique=True,
        sqlite_where=WHERE_TICK,
        postgresql_where=WHERE_TICK,
    )
    op.drop_table("catalogs")
    dialect = op.get_context().dialect.name
    for view in ANALYST_VIEWS:
        op.execute(view.create(dialect))
