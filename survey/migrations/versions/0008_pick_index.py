"""pick_index: the dialer's due queues ordered as a pick reads them

A pick takes, per township and status (and for callbacks per survey and status), the earliest
due cases with ties broken by id (dialer/picking.py); with ``id`` last in the index each of its
sub-selects is one index range read in order, on PostgreSQL as on SQLite.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _indexes(columns: dict[str, list[str]]) -> None:
    with op.batch_alter_table("cases") as batch:
        for name, cols in columns.items():
            batch.drop_index(name)
            batch.create_index(name, cols)


def upgrade() -> None:
    _indexes({"ix_cases_due": ["survey_id", "status", "next_attempt_at", "id"],
              "ix_cases_queue": ["stratum_id", "status", "next_attempt_at", "id"]})


def downgrade() -> None:
    _indexes({"ix_cases_due": ["survey_id", "status", "next_attempt_at"],
              "ix_cases_queue": ["stratum_id", "status", "next_attempt_at"]})
