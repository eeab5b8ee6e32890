"""sync_runs.normalization_version: which normalization derived a run's rows.

A sync of the very bytes the latest run applied can then skip parsing, but only when the
stored state was derived by the normalization this version of catalog-etl uses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; older runs keep NULL (unknown normalization)."""
    # A plain ALTER TABLE, not a batch copy: SQLite's views over sync_runs must survive.
    op.add_column("sync_runs", sa.Column("normalization_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    op.drop_column("sync_runs", "normalization_version")
