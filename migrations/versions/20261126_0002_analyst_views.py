"""Analyst views: model_version_modalities, model_version_parameters,
model_version_categories, current_models, current_prices, price_history, price_changes,
availability_intervals and observations (see etl.db.views), on SQLite and PostgreSQL.

Written by hand (autogenerate does not see views), then reviewed: each view is created
with the dialect's own SQL for arithmetic and dates, and the downgrade drops them all.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

from etl.db.views import ANALYST_VIEWS

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the analyst views."""
    dialect = op.get_context().dialect.name  # works offline (alembic upgrade --sql) too
    for view in ANALYST_VIEWS:
        op.execute(view.create(dialect))


def downgrade() -> None:
    """Drop the analyst views."""
    for view in reversed(ANALYST_VIEWS):
        op.execute(view.drop())
