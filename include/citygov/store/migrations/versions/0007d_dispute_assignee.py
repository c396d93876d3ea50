"""disputes.assignee: an individual handler within the responsible unit

Revision ID: 0007d
Revises: 0006d
Create Date: 2026-12-06 12:00:00

An item was only ever assigned to a unit. ``assignee`` names the registered person of that unit (an
officer of the responsible unit, or a steward) who handles it; NULL means the unit as a whole, which is
what every existing item keeps. Downgrading drops the column (the events still record who was assigned).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007d"
down_revision: str | Sequence[str] | None = "0006d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_disputes_assignee"), ["assignee"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_assignee"))
        batch_op.drop_column("assignee")
