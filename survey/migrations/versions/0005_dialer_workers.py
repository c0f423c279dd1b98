"""dialer_workers: each running dialler worker's heartbeat

A worker that died (its heartbeat stale, or its name checking in again) has its leases and open
attempts taken back at once instead of when the leases expire.

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("dialer_workers",
                    sa.Column("name", sa.String(80), nullable=False),
                    sa.Column("started_at", sa.DateTime(), nullable=False),
                    sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("name", name=op.f("pk_dialer_workers")))
    op.create_index(op.f("ix_dialer_workers_heartbeat_at"), "dialer_workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dialer_workers_heartbeat_at"), "dialer_workers")
    op.drop_table("dialer_workers")
