"""The audit log is append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from survey import audit
from survey.audit import AuditLogImmutable
from survey.clock import VirtualClock


def test_rows_cannot_be_changed_or_deleted(session: Session, clock: VirtualClock) -> None:
    row = audit.record(session, clock, user_id=None, action="test", entity="case", entity_id=7,
                       before={"a": 1}, after={"a": 2})
    session.commit()
    assert [r.id for r in audit.entries(session, entity="case", entity_id="7")] == [row.id]
    row.after = {"a": 3}
    with pytest.raises(AuditLogImmutable, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(row)
    with pytest.raises(AuditLogImmutable):
        session.flush()


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"])
def test_the_database_itself_refuses_to_rewrite_it(engine: Engine, session: Session, clock: VirtualClock,
                                                    statement: str) -> None:
    """Plain SQL on a connection of its own, past the app's guard: the triggers refuse."""
    audit.record(session, clock, user_id=None, action="test", entity="case", entity_id=7)
    session.commit()
    with engine.connect() as conn, pytest.raises(DBAPIError, match="audit_log is append-only"):
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log")).scalars().all() == ["test"]


def test_changed_keeps_only_differences() -> None:
    assert audit.changed({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ({"b": 2}, {"b": 3})


def test_the_guard_comes_with_the_session_factory_not_with_an_import() -> None:
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import sessionmaker

    from survey.db import session_factory

    engine = create_engine("sqlite://")
    guarded = session_factory(engine)  # kept alive: SQLAlchemy's event registry is keyed by id(), which a
    assert event.contains(guarded, "before_flush", audit._refuse_rewrites)  # new factory could reuse
    assert not event.contains(sessionmaker(engine), "before_flush", audit._refuse_rewrites)
