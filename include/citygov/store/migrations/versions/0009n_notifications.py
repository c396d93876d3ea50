"""notification_deliveries: what the notifications sent, once per digest per day per recipient

Revision ID: 0009n
Revises: 0008c
Create Date: 2026-12-06 17:30:00

Each notification (a department's daily digest of dispute items, an escalation of an overdue item to the
stewards, a DAG failure to the operators) is one row per (kind, key, recipient): the key is the digest's
date, the escalated item and deadline, or the failed task instance. The row is written before sending, so a
retried task finds it and does not send twice; a send held back by the recipient's quiet hours stays
``queued`` with its (masked) payload until a run outside them sends it. Downgrading drops the table: the
record of what was sent is then gone, and the next run would send today's digests again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009n"
down_revision: str | Sequence[str] | None = "0008c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("recipient", sa.String(length=250), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint("kind", "key", "recipient", name="uq_notification_deliveries_kind"),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_deliveries_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_status"))
    op.drop_table("notification_deliveries")
