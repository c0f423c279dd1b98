"""audit log append-only in the database; webhook replies indexed by age

The app already refuses to change audit rows (``survey.audit``); the triggers make the database
refuse too, so that a hand-written UPDATE or DELETE cannot rewrite history either. Webhook replies
are kept for a day to answer Twilio's retries, then pruned by ``created_at``.

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_log is append-only"

POSTGRESQL_UP = (
    f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
)
POSTGRESQL_DOWN = (
    "DROP TRIGGER audit_log_no_truncate ON audit_log",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "DROP FUNCTION audit_log_append_only()",
)
SQLITE_UP = tuple(
    f"""CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
    for verb in ("UPDATE", "DELETE")
)
SQLITE_DOWN = ("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete")


def _run(statements: dict[str, Sequence[str]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def upgrade() -> None:
    op.create_index(op.f("ix_webhook_replies_created_at"), "webhook_replies", ["created_at"])
    _run({"postgresql": POSTGRESQL_UP, "sqlite": SQLITE_UP})


def downgrade() -> None:
    _run({"postgresql": POSTGRESQL_DOWN, "sqlite": SQLITE_DOWN})
    op.drop_index(op.f("ix_webhook_replies_created_at"), table_name="webhook_replies")
