"""drop cases.attempts_by_daypart

The scheduler counts a case's attempts per day-part and per local date from the start times of
its attempts (``dialer.cases.case_history``), so a changed day-part definition applies to past
attempts too; the running counts in this column were written but never read.

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("attempts_by_daypart")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("attempts_by_daypart", sa.JSON(), nullable=False, server_default="{}"))
