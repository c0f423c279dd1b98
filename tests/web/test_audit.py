"""The audit log is append-only."""

from __future__ import annotations

import pytest
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


def test_changed_keeps_only_differences() -> None:
    assert audit.changed({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ({"b": 2}, {"b": 3})
