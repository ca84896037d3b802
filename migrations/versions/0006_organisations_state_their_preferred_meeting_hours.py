"""organisations state their preferred meeting hours

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("preferred_hours_start", sa.Time(), nullable=True))
        batch.add_column(sa.Column("preferred_hours_end", sa.Time(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_organisations_preferred_hours_order"),
            "preferred_hours_start < preferred_hours_end",
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_constraint(op.f("ck_organisations_preferred_hours_order"), type_="check")
        batch.drop_column("preferred_hours_end")
        batch.drop_column("preferred_hours_start")
