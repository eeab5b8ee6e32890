"""The notification outbox: ``notifications``.

One row per sync and subscription, written in the sync's transaction and delivered after it
commits; no destination URL is stored, only the subscription's name.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from etl.db.types import JSONDocument, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the outbox."""
    op.create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True),
        sa.Column("subscription", sa.String(length=255), nullable=False),
        sa.Column("sync_run_id", Id, nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("body", JSONDocument, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered')", name=op.f("ck_notifications_status")
        ),
        sa.ForeignKeyConstraint(
            ["sync_run_id"], ["sync_runs.id"], name=op.f("fk_notifications_sync_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notifications_idempotency_key")),
    )
    op.create_index(
        "ix_notifications_subscription_status_id",
        "notifications",
        ["subscription", "status", "id"],
    )


def downgrade() -> None:
    """Drop the outbox (undelivered messages are lost with it)."""
    op.drop_index("ix_notifications_subscription_status_id", table_name="notifications")
    op.drop_table("notifications")
