"""recordings_of_call_attempts: a recording belongs to the call attempt that made it

A whole call recorded by the provider may end before any interview opens (the resident hangs up
during the introduction, a machine answers): ``attempt_id`` ties the recording to its call, and
``interview_id`` may be NULL. Recordings stored before this revision get their interview's last
call attempt, the call that recorded them for an IVR interview.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("attempt_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_recordings_attempt_id_call_attempts"), "call_attempts",
                                 ["attempt_id"], ["id"])
        batch.create_index(batch.f("ix_recordings_attempt_id"), ["attempt_id"])
        batch.alter_column("interview_id", existing_type=sa.Integer(), nullable=True)
    op.execute("UPDATE recordings SET attempt_id = (SELECT last_attempt_id FROM interviews "
               "WHERE interviews.id = recordings.interview_id)")


def downgrade() -> None:
    op.execute("DELETE FROM recordings WHERE interview_id IS NULL")
    with op.batch_alter_table("recordings") as batch:
        batch.alter_column("interview_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_index(batch.f("ix_recordings_attempt_id"))
        batch.drop_constraint(batch.f("fk_recordings_attempt_id_call_attempts"), type_="foreignkey")
        batch.drop_column("attempt_id")
