"""dataset_scores.status and not_scored_reason: a dataset whose validation did not run is not scored

Revision ID: 0006q
Revises: 0005
Create Date: 2026-12-06 10:00:00

A dataset whose validation did not run (source unreadable, engine failure, no expectation evaluated)
used to be scored on the patrol's two dimensions alone, often 100.00 优秀. Its score row now says
``status = 'not_scored'`` with the reason, and ``score`` and ``grade`` are NULL; every existing row is
``scored``. Downgrading deletes the not-scored rows (the old schema cannot hold a row without a score).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006q"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), server_default="scored", nullable=False))
        batch_op.add_column(sa.Column("not_scored_reason", sa.Text(), nullable=True))
        batch_op.alter_column("score", existing_type=sa.Float(), nullable=True)
        batch_op.alter_column("grade", existing_type=sa.String(length=8), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM dataset_scores WHERE status <> 'scored'")
    with op.batch_alter_table("dataset_scores", schema=None) as batch_op:
        batch_op.alter_column("grade", existing_type=sa.String(length=8), nullable=False)
        batch_op.alter_column("score", existing_type=sa.Float(), nullable=False)
        batch_op.drop_column("not_scored_reason")
        batch_op.drop_column("status")
