"""answers keep the language they were written in

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("locale", sa.String(5), nullable=True))
    # Answers written before: in the language their writer uses (the best there is to know).
    op.execute(
        "UPDATE answers SET locale = (SELECT family_members.locale FROM questionnaire_responses "
        "JOIN family_members ON family_members.id = questionnaire_responses.family_member_id "
        "WHERE questionnaire_responses.id = answers.response_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("locale")
