"""leases_out_of_the_due_indexes: a lease writes two index entries fewer on PostgreSQL

A lease changes a case's status, so its new row version is never a HOT update: it got an entry
in each of the four indexes of ``cases``. On PostgreSQL ``ix_cases_due`` and ``ix_cases_queue``
(the pick's) now leave leased rows out, and the leased rows of a survey have a small index of
their own, ``ix_cases_leased`` (leases taken back, lines in use), so that a lease writes its
version into three indexes, one of them small, where it wrote into four large ones. A query
uses a partial index only where PostgreSQL proves the predicate from the statement: a status
written in the SQL, or a parameter's value in a custom plan.

SQLite uses a partial index only for a query with the predicate's own terms (``status =
'scheduled'`` does not match ``status <> 'leased'``): there the two indexes stay whole, and
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

_DUE = {"ix_cases_due": ["survey_id", "status", "next_attempt_at", "id"],
        "ix_cases_queue": ["stratum_id", "status", "next_attempt_at", "id"]}
_LEASED = sa.text("status = 'leased'")


def _due_indexes(where: sa.TextClause | None) -> None:
    for name, columns in _DUE.items():
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", columns, postgresql_where=where)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _due_indexes(sa.text("status <> 'leased'"))
    op.create_index("ix_cases_leased", "cases", ["survey_id"], postgresql_where=_LEASED, sqlite_where=_LEASED)


def downgrade() -> None:
    op.drop_index("ix_cases_leased", table_name="cases")
    if op.get_bind().dialect.name == "postgresql":
        _due_indexes(None)
