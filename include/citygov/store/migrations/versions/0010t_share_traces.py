"""share_traces: every share the exchange platform served, with the dataset's quality then

Revision ID: 0010t
Revises: 0009n
Create Date: 2026-12-06 17:45:00

The sharing trace (共享过程可追溯): each served share request of the exchange platform's log is imported
once, keyed on its request id, with the dataset's state when it was served (latest score and grade, open
high-severity items, the backflow batches it held). Downgrading drops the table: the trace is then gone, and
importing the log again rebuilds it from the store's history (scores, disputes and batches as they stand).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010t"
down_revision: str | Sequence[str] | None = "0009n"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_traces",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("entry_code", sa.String(length=64), nullable=False),
        sa.Column("requester", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("share_method", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("scored_on", sa.Date(), nullable=True),
        sa.Column("score_status", sa.String(length=16), nullable=False),
        sa.Column("open_high", sa.JSON(), nullable=False),
        sa.Column("batches", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_share_traces")),
    )
    op.create_index(op.f("ix_share_traces_entry_code"), "share_traces", ["entry_code"])
    op.create_index(op.f("ix_share_traces_requester"), "share_traces", ["requester"])
    op.create_index(op.f("ix_share_traces_served_at"), "share_traces", ["served_at"])
    op.create_index(op.f("ix_share_traces_served_on"), "share_traces", ["served_on"])


def downgrade() -> None:
    op.drop_table("share_traces")
