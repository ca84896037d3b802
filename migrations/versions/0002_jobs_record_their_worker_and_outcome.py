"""jobs record their worker and outcome

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:41:33.393790
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=200), nullable=True))
        batch_op.drop_column("locked_by")
        batch_op.drop_column("locked_until")



def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("locked_by", sa.String(length=100), nullable=True))
        batch_op.drop_column("note")
        batch_op.drop_column("worker")

