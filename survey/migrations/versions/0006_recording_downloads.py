"""recordings: the download of a recording still at its provider (Twilio)

``remote_url`` is the provider's media URL; ``download_status`` (pending, stored, failed; NULL for
a recording the channel stored itself) with ``download_attempts``, ``next_attempt_at`` and
``last_error`` is the fetcher's retry schedule; ``provider_deleted_at`` says the provider's copy is
gone (the deletion policy, TWILIO_RECORDING_DELETION). Recordings stored before this revision with
a URL for a path become pending downloads.

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("remote_url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("download_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("download_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("downloaded_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("provider_deleted_at", sa.DateTime(), nullable=True))
        batch.create_index(batch.f("ix_recordings_download_status"), ["download_status"])
    op.execute("UPDATE recordings SET remote_url = path, path = '', download_status = 'pending', "
               "next_attempt_at = created_at WHERE path LIKE 'http://%' OR path LIKE 'https://%'")


def downgrade() -> None:
    op.execute("UPDATE recordings SET path = remote_url WHERE download_status IN ('pending', 'failed')")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_index(batch.f("ix_recordings_download_status"))
        for column in ("provider_deleted_at", "downloaded_at", "last_error", "next_attempt_at", "download_attempts",
                       "download_status", "remote_url"):
            batch.drop_column(column)
