"""leases_out_of_the_due_index: a lease writes one large index entry fewer on PostgreSQL

A lease changes a case's status, so its new row version is never a HOT update: it got an entry
in each of the four indexes of ``cases``. On PostgreSQL ``ix_cases_due`` (the pick's callbacks,
per survey) now leaves leased rows out, and the leased rows of a survey have a small index of
their own, ``ix_cases_leased`` (leases taken back, lines in use): a lease writes three large
indexes and a small one (a pick of 100: 2,522 shared buffers against 2,722, EXPLAIN BUFFERS). A
query uses a partial index only where PostgreSQL proves the predicate from the statement: a
status written in the SQL (dialer.cases.status_is), or a parameter's value in a custom plan.

``ix_cases_queue`` stays whole: queries by township alone (a sample's replicates, the web's
township scopes) read it, since 0011 dropped the index on ``stratum_id``; without its leased rows
(and with that index back) a pick read as many buffers as with this migration alone.

SQLite uses a partial index only for a query with the predicate's own terms (``status =
'scheduled'`` does not match ``status <> 'leased'``): there ``ix_cases_due`` stays whole, and
``ix_cases_leased`` serves a query that names the leased status.

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEASED = sa.text("status = 'leased'")


def _due_index(where: sa.TextClause | None) -> None:
    op.drop_index("ix_cases_due", table_name="cases")
    op.create_index("ix_cases_due", "cases", ["survey_id", "status", "next_attempt_at", "id"], postgresql_where=where)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _due_index(sa.text("status <> 'leased'"))
    op.create_index("ix_cases_leased", "cases", ["survey_id"], postgresql_where=_LEASED, sqlite_where=_LEASED)


def downgrade() -> None:
    op.drop_index("ix_cases_leased", table_name="cases")
    if op.get_bind().dialect.name == "postgresql":
        _due_index(None)
