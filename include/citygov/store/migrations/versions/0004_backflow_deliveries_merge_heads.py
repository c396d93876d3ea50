"""backflow deliveries; merges the dispute (0003d) and quality (0003q) heads

Revision ID: 0004
Revises: 0003d, 0003q
Create Date: 2026-11-29 21:30:00

One row per arrival of a (batch id, sha256) in ``backflow_deliveries``: a redelivery with other content
is recorded there instead of under a ``<batch_id>#<sha[:12]>`` pseudo batch. Rows of that old form in
``backflow_batches`` are moved to deliveries of their batch when it exists.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = ("0003d", "0003q")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backflow_deliveries",
        sa.Column("batch_id", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["backflow_batches.batch_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "sha256"),
    )
    with op.batch_alter_table("backflow_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backflow_deliveries_last_seen_at"), ["last_seen_at"], unique=False)

    batches = sa.table(
        "backflow_batches",
        sa.column("batch_id", sa.String),
        sa.column("sha256", sa.String),
        sa.column("status", sa.String),
        sa.column("reason", sa.Text),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("loaded_at", sa.DateTime(timezone=True)),
    )
    deliveries = sa.table(
        "backflow_deliveries",
        sa.column("batch_id", sa.String),
        sa.column("sha256", sa.String),
        sa.column("status", sa.String),
        sa.column("reason", sa.Text),
        sa.column("attempts", sa.Integer),
        sa.column("first_seen_at", sa.DateTime(timezone=True)),
        sa.column("last_seen_at", sa.DateTime(timezone=True)),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(batches)).all()
    known = {r.batch_id for r in rows}
    status = {"loaded": "accepted", "rejected": "rejected", "loading": "failed"}
    for r in rows:
        base, hack, _ = r.batch_id.partition("#")
        if hack and base not in known:
            continue  # a pseudo batch whose real batch is gone: keep it as it is
        seen = r.loaded_at or r.received_at
        conn.execute(
            deliveries.insert().values(
                batch_id=base,
                sha256=r.sha256 or "-",
                status="duplicate-different-content" if hack else status.get(r.status, r.status),
                reason=r.reason,
                attempts=1,
                first_seen_at=r.received_at,
                last_seen_at=seen,
            )
        )
        if hack:
            conn.execute(batches.delete().where(batches.c.batch_id == r.batch_id))


def downgrade() -> None:
    with op.batch_alter_table("backflow_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backflow_deliveries_last_seen_at"))
    op.drop_table("backflow_deliveries")
