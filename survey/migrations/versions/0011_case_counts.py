"""case_counts: cases per township, status and final code, kept by triggers on ``cases``

The progress views (dialer/quotas.py, dialer/stats.py) read these counts instead of counting a
province's million cases per request. Triggers keep them in the same transaction as every
insert, update and delete of a case, whoever makes it (the dialer, the call service, staff, a
bulk load), so they cannot drift from the cases.

PostgreSQL: statement-level triggers with transition tables, one grouped upsert per statement;
the row of each count is chosen by transaction id (``shard``, one of :data:`SHARDS`), so that
concurrent transactions - the workers - write different rows and never wait on each other's
counters. SQLite (one writer at a time): row-level triggers on shard 0.

Also drops ``ix_cases_stratum_id``: ``ix_cases_queue`` starts with the township, and every
change of a case's status wrote one index more than needed.

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 8
KEY = "stratum_id, status, disposition, shard"  # a township is of one survey
COUNTED = "status, final_disposition, stratum_id, survey_id"  # a change of any other column leaves the counts

_NEW, _OLD = (f"SELECT {COUNTED}, {d} AS d FROM {rows}" for d, rows in (("1", "new_rows"), ("-1", "old_rows")))
_CHANGES = {"INSERT": _NEW, "DELETE": _OLD, "UPDATE": f"{_NEW} UNION ALL {_OLD}"}  # each event's rows, +1 or -1
_PG_FUNCTION = f"""
CREATE FUNCTION case_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    slot integer := (pg_current_xact_id()::text::bigint % {SHARDS})::integer;
BEGIN
""" + "\n".join(f"""
    {'IF' if i == 0 else 'ELSIF'} TG_OP = '{op_}' THEN
        INSERT INTO case_counts AS c (survey_id, {KEY}, n)
        SELECT survey_id, stratum_id, status, coalesce(final_disposition, ''), slot, sum(d)
        FROM ({rows}) AS changes
        GROUP BY survey_id, stratum_id, status, coalesce(final_disposition, '') HAVING sum(d) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT ({KEY}) DO UPDATE SET n = c.n + excluded.n;""" for i, (op_, rows) in enumerate(_CHANGES.items())) + """
    END IF;
    RETURN NULL;
END $$
"""
_PG_TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def _sqlite_count(row: str, delta: str) -> str:
    return (f"INSERT INTO case_counts (survey_id, {KEY}, n) VALUES ({row}.survey_id, {row}.stratum_id, {row}.status, "
            f"coalesce({row}.final_disposition, ''), 0, {delta}) ON CONFLICT ({KEY}) DO UPDATE SET n = n + {delta};")


_SQLITE_TRIGGERS = {
    "case_counts_insert": f"AFTER INSERT ON cases BEGIN {_sqlite_count('NEW', '1')} END",
    "case_counts_delete": f"AFTER DELETE ON cases BEGIN {_sqlite_count('OLD', '-1')} END",
    "case_counts_update": (f"AFTER UPDATE OF {COUNTED} ON cases WHEN OLD.status IS NOT NEW.status "
                           "OR OLD.final_disposition IS NOT NEW.final_disposition OR OLD.stratum_id IS NOT NEW.stratum_id "
                           f"OR OLD.survey_id IS NOT NEW.survey_id BEGIN {_sqlite_count('OLD', '-1')} "
                           f"{_sqlite_count('NEW', '1')} END"),
}


def upgrade() -> None:
    op.drop_index("ix_cases_stratum_id", table_name="cases")
    op.create_table(
        "case_counts",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("stratum_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("disposition", sa.String(8), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], name=op.f("fk_case_counts_survey_id_surveys")),
        sa.ForeignKeyConstraint(["stratum_id"], ["strata.id"], name=op.f("fk_case_counts_stratum_id_strata")),
        sa.PrimaryKeyConstraint("stratum_id", "status", "disposition", "shard", name=op.f("pk_case_counts")),
    )
    op.create_index("ix_case_counts_survey_id", "case_counts", ["survey_id"])
    op.execute(f"INSERT INTO case_counts (survey_id, {KEY}, n) SELECT survey_id, stratum_id, status, "
               "coalesce(final_disposition, ''), 0, count(*) FROM cases "
               "GROUP BY survey_id, stratum_id, status, coalesce(final_disposition, '')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for i, (event, tables) in enumerate(_PG_TRIGGERS.items()):
            op.execute(f"CREATE TRIGGER case_counts_{i} AFTER {event} ON cases {tables} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION case_counts_apply()")
    else:
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for i in range(len(_PG_TRIGGERS)):
            op.execute(f"DROP TRIGGER case_counts_{i} ON cases")
        op.execute("DROP FUNCTION case_counts_apply()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("case_counts")
    op.create_index("ix_cases_stratum_id", "cases", ["stratum_id"])
