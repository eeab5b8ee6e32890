"""The payload archive as deltas: ``payloads.base_sha256`` and ``payloads.depth``.

A payload may be stored as the zstd-compressed difference from another one (its base, which
the foreign key keeps from being deleted); ``depth`` counts the frames a read decompresses.
Existing rows are frames of their own (depth 0): ``catalog-etl db compact`` converts them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the base and depth of every payload; every existing payload is a frame of its own."""
    with op.batch_alter_table("payloads") as batch:
        batch.add_column(sa.Column("base_sha256", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("depth", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.create_foreign_key(
            op.f("fk_payloads_base_sha256_payloads"), "payloads", ["base_sha256"], ["sha256"]
        )
        batch.create_check_constraint(
            "base_depth",
            "(base_sha256 IS NULL AND depth = 0) OR (base_sha256 IS NOT NULL AND depth > 0)",
        )


def downgrade() -> None:
    """Store every delta as a frame of its own again (revision 0004 cannot read deltas),
    then drop the columns."""
    from etl.store.archive import COMPRESSION, ZSTD_LEVEL, load_payload

    connection = op.get_bind()
    payloads = sa.table(
        "payloads",
        sa.column("sha256", sa.String),
        sa.column("compression", sa.String),
        sa.column("content", sa.LargeBinary),
        sa.column("base_sha256", sa.String),
        sa.column("depth", sa.Integer),
    )
    deltas = connection.execute(
        sa.select(payloads.c.sha256)
        .where(payloads.c.base_sha256.is_not(None))
        .order_by(payloads.c.depth.desc())  # the ends of the chains first: bases stay readable
    ).scalars()
    for sha256 in list(deltas):
        frame = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(load_payload(connection, sha256))
        connection.execute(
            sa.update(payloads)
            .where(payloads.c.sha256 == sha256)
            .values(compression=COMPRESSION, content=frame, base_sha256=None, depth=0)
        )
    with op.batch_alter_table("payloads") as batch:
        batch.drop_constraint(op.f("ck_payloads_base_depth"), type_="check")
        batch.drop_constraint(op.f("fk_payloads_base_sha256_payloads"), type_="foreignkey")
        batch.drop_column("depth")
        batch.drop_column("base_sha256")
