"""staff_calls: calls the system places for interviewers, and the centre's staff-call settings

``staff_calls`` holds one row per staff-placed call (the staff member's phone first, then the
resident, bridged), tied to the task's open CATI attempt; ``staff_call_policy`` the centre's
settings (provider, recording for quality control, the ``tel:`` fallback); ``users.phone`` each
staff member's own phone. A recording is now an interview's voice answer or a staff call's
quality-control recording, so ``recordings.interview_id`` may be NULL beside ``staff_call_id``.

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
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phone", sa.String(80), nullable=False, server_default=""))
    op.create_table(
        "staff_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("staff_endpoint", sa.String(80), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("end", sa.String(20), nullable=True),
        sa.Column("hangup_cause", sa.String(40), nullable=True),
        sa.Column("coded", sa.String(20), nullable=True),
        sa.Column("provider_ref", sa.String(120), nullable=True),
        sa.Column("resident_ref", sa.String(120), nullable=True),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("staff_answered_at", sa.DateTime(), nullable=True),
        sa.Column("ringing_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"], name=op.f("fk_staff_calls_attempt_id_call_attempts")),
        sa.ForeignKeyConstraint(["task_id"], ["follow_up_tasks.id"], name=op.f("fk_staff_calls_task_id_follow_up_tasks")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_staff_calls_case_id_cases")),
        sa.ForeignKeyConstraint(["staff_id"], ["users.id"], name=op.f("fk_staff_calls_staff_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_calls")),
        sa.UniqueConstraint("provider_ref", name=op.f("uq_staff_calls_provider_ref")),
    )
    for column in ("attempt_id", "task_id", "case_id", "state"):
        op.create_index(op.f(f"ix_staff_calls_{column}"), "staff_calls", [column])
    op.create_table(
        "staff_call_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("tel_fallback", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_staff_call_policy_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_call_policy")),
    )
    with op.batch_alter_table("recordings") as batch:
        batch.alter_column("interview_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("staff_call_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_recordings_staff_call_id_staff_calls"), "staff_calls",
                                 ["staff_call_id"], ["id"])
        batch.create_index(batch.f("ix_recordings_staff_call_id"), ["staff_call_id"])


def downgrade() -> None:
    op.execute("DELETE FROM recordings WHERE interview_id IS NULL")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_index(batch.f("ix_recordings_staff_call_id"))
        batch.drop_constraint(batch.f("fk_recordings_staff_call_id_staff_calls"), type_="foreignkey")
        batch.drop_column("staff_call_id")
        batch.alter_column("interview_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("staff_call_policy")
    for column in ("attempt_id", "task_id", "case_id", "state"):
        op.drop_index(op.f(f"ix_staff_calls_{column}"), "staff_calls")
    op.drop_table("staff_calls")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
