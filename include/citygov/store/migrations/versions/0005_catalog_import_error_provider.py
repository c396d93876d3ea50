"""catalog_import_errors.provider: the rejected row's 信息资源提供方

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:00:00

Routing used to guess the unit responsible for a rejected catalog row from its code's department
segment; the row's own provider is now kept so the item goes to the unit the row names.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_import_errors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_import_errors", schema=None) as batch_op:
        batch_op.drop_column("provider")
