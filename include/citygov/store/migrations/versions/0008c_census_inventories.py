"""census_inventories: one source's inventory per census date

Revision ID: 0008c
Revises: 0007d
Create Date: 2026-12-06 15:10:00

The census is taken one source at a time (a mapped task per department source) and each source's
inventory is kept in the store, keyed on (logical date, connection), instead of all of them travelling in
one task's XCom; the reconcile step reads them back. Existing census snapshots are untouched (a snapshot
is still what the reconcile writes). Downgrading drops the table: the inventories of past dates are then
gone, their snapshots stay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008c"
down_revision: str | Sequence[str] | None = "0007d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "census_inventories",
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column("conn_id", sa.String(length=250), nullable=False),
        sa.Column("department", sa.String(length=255), nullable=True),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("resource_count", sa.Integer(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("logical_date", "conn_id", name=op.f("pk_census_inventories")),
    )


def downgrade() -> None:
    op.drop_table("census_inventories")
