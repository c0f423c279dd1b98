"""The audit log: who changed what, when, with the values before and after.

Rows are append-only. :func:`record` is the only writer; in every session made by
:func:`survey.db.session_factory` (:func:`guard`) a flush that would change or delete an
existing row is refused, and so is a bulk UPDATE or DELETE of audit rows through a session, so
neither the web app nor a script can rewrite history by accident.
Values must be JSON-able and must never hold a phone number or a password hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from survey.clock import Clock
from survey.models import AuditLog


class AuditLogImmutable(RuntimeError):
    """Something tried to change or delete an audit row."""


def record(session: Session, clock: Clock, *, user_id: int | None, action: str, entity: str,
           entity_id: int | str, before: Mapping[str, Any] | None = None,
           after: Mapping[str, Any] | None = None) -> AuditLog:
    """Add one audit row to ``session`` (the caller commits)."""
    row = AuditLog(at=clock.now(), user_id=user_id, action=action, entity=entity, entity_id=str(entity_id),
                   before=dict(before) if before is not None else None,
                   after=dict(after) if after is not None else None)
    session.add(row)
    return row


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def entries(session: Session, *, entity: str | None = None, entity_id: str | None = None,
            user_id: int | None = None, action: str | None = None, limit: int = 100,
            older_than: int | None = None) -> list[AuditLog]:
    """The newest rows matching the filters; page back with ``older_than`` (an id)."""
    query = matching(entity=entity, entity_id=entity_id, user_id=user_id, action=action).limit(limit)
    if older_than is not None:
        query = query.where(AuditLog.id < older_than)
    return list(session.scalars(query))


def matching(*, entity: str | None = None, entity_id: str | None = None, user_id: int | None = None,
             action: str | None = None) -> Select[AuditLog]:
    """The rows matching the filters, newest first."""
    query = select(AuditLog).order_by(AuditLog.id.desc())
    if entity:
        query = query.where(AuditLog.entity == entity)
    if entity_id:
        query = query.where(AuditLog.entity_id == entity_id)
    if user_id is not None:
        query = query.where(AuditLog.user_id == user_id)
    if action:
        query = query.where(AuditLog.action == action)
    return query


def _refuse_rewrites(session: Session, _context: object, _instances: object) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditLog) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogImmutable(f"audit row {obj.id} is append-only: it cannot be changed or deleted")


def _refuse_bulk_rewrites(state: ORMExecuteState) -> None:
    table = getattr(state.statement, "table", None)  # the target of an ORM or a Core UPDATE/DELETE
    if (state.is_update or state.is_delete) and getattr(table, "name", None) == AuditLog.__tablename__:
        raise AuditLogImmutable("audit rows are append-only: no UPDATE or DELETE statement may touch them")


def guard(factory: sessionmaker[Session]) -> None:
    """Make every session of ``factory`` refuse to change or delete audit rows. Installed by
    :func:`survey.db.session_factory`, so every process (web, dialer, Stasis app, commands) has
    it from the moment it can reach the database, whatever it imported."""
    event.listen(factory, "before_flush", _refuse_rewrites)
    event.listen(factory, "do_orm_execute", _refuse_bulk_rewrites)
