"""The concerns state machine (office.concerns) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from office import concerns
from survey.clock import VirtualClock
from survey.models import AuditLog, Case, ConcernEvent, Contact, FollowUpTask, Unit
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import ConcernStatus, TaskKind, TaskStatus

S = ConcernStatus


@pytest.fixture
def setting(session: Session, clock: VirtualClock) -> tuple[Case, Unit]:
    survey = create_survey(session, "w1", load_bundled(), clock, period="2026-11", strata=[StratumSpec("T01", "城关镇")])
    contact = Contact(number_enc=b"x", number_hash="h1", number_masked="+86138****0001")
    unit = Unit(code="PS01", name_zh="城关派出所")
    session.add_all([contact, unit])
    session.flush()
    case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id, created_at=clock.now(),
                updated_at=clock.now())
    session.add(case)
    session.flush()
    return case, unit


def _new(session: Session, clock: VirtualClock, case: Case) -> concerns.Concern:
    return concerns.receive(session, clock, survey_id=case.survey_id, stratum_id=case.stratum_id, category="theft",
                            summary="电动车被偷", user_id=None, case_id=case.id)


def test_whole_workflow_with_revisit_task_and_audit(session: Session, clock: VirtualClock,
                                                    setting: tuple[Case, Unit]) -> None:
    case, unit = setting
    concern = _new(session, clock, case)
    assert concerns.allowed_actions(concern) == ["assign"]
    concerns.assign(session, concern, clock, unit_id=unit.id, deadline=clock.now() + timedelta(days=7), user_id=None)
    concerns.start(session, concern, clock, user_id=None)
    concerns.add_note(session, concern, clock, user_id=None, note="走访核实")
    concerns.resolve(session, concern, clock, user_id=None, note="已加装路灯")
    task = session.scalars(select(FollowUpTask).where(FollowUpTask.case_id == case.id)).one()
    assert (task.kind, task.status) == (TaskKind.REVISIT, TaskStatus.OPEN)
    assert concerns.awaiting_revisit(session, case.id) == [concern]
    concerns.record_revisit(session, concern, clock, user_id=None, result=concerns.FIXED)
    assert (concern.status, concern.revisit_result, task.status) == (S.REVISITED, "fixed", TaskStatus.DONE)
    steps = session.scalars(select(ConcernEvent.to_status).where(ConcernEvent.concern_id == concern.id)
                            .order_by(ConcernEvent.id)).all()
    assert steps == [S.RECEIVED, S.ASSIGNED, S.IN_PROGRESS, S.IN_PROGRESS, S.RESOLVED, S.REVISITED]
    actions = session.scalars(select(AuditLog.action).where(AuditLog.entity == "concern")).all()
    assert actions == ["concern_received", "concern_assign", "concern_start", "concern_note", "concern_resolve",
                       "concern_revisit"]
    assign_row = session.scalars(select(AuditLog).where(AuditLog.action == "concern_assign")).one()
    assert assign_row.before == {"status": S.RECEIVED, "unit_id": None, "deadline": None}
    assert assign_row.after is not None and assign_row.after["status"] == S.ASSIGNED


def test_illegal_steps_are_refused_before_anything_changes(session: Session, clock: VirtualClock,
                                                          setting: tuple[Case, Unit]) -> None:
    case, unit = setting
    concern = _new(session, clock, case)
    with pytest.raises(concerns.IllegalTransition, match="only possible from 办理中") as exc:
        concerns.resolve(session, concern, clock, user_id=None, note="done")
    assert exc.value.status == S.RECEIVED and concern.status == S.RECEIVED
    with pytest.raises(concerns.IllegalTransition):
        concerns.record_revisit(session, concern, clock, user_id=None, result="fixed")
    with pytest.raises(concerns.ConcernError, match="deadline must be in the future"):
        concerns.assign(session, concern, clock, unit_id=unit.id, deadline=clock.now(), user_id=None)
    with pytest.raises(concerns.ConcernError, match="unknown category"):
        concerns.receive(session, clock, survey_id=case.survey_id, stratum_id=case.stratum_id, category="ufo",
                         summary="x", user_id=None)
    assert concern.status == S.RECEIVED and concern.unit_id is None


def test_overdue_and_reopening_after_a_failed_revisit(session: Session, clock: VirtualClock,
                                                      setting: tuple[Case, Unit]) -> None:
    case, unit = setting
    concern = _new(session, clock, case)
    concerns.assign(session, concern, clock, unit_id=unit.id, deadline=clock.now() + timedelta(days=1), user_id=None)
    assert not concerns.is_overdue(concern, clock.now())
    clock.advance(timedelta(days=2))
    assert concerns.is_overdue(concern, clock.now())
    concerns.start(session, concern, clock, user_id=None)
    concerns.resolve(session, concern, clock, user_id=None, note="处理完毕")
    assert not concerns.is_overdue(concern, clock.now())
    concerns.record_revisit(session, concern, clock, user_id=None, result=concerns.NOT_FIXED)
    assert concerns.allowed_actions(concern) == ["assign"]
    concerns.assign(session, concern, clock, unit_id=unit.id, deadline=clock.now() + timedelta(days=3), user_id=None)
    assert concern.status == S.ASSIGNED and concern.resolved_at is None
    concerns.start(session, concern, clock, user_id=None)
    concerns.resolve(session, concern, clock, user_id=None, note="第二次处理")
    concerns.record_revisit(session, concern, clock, user_id=None, result=concerns.FIXED)
    with pytest.raises(concerns.IllegalTransition):
        concerns.assign(session, concern, clock, unit_id=unit.id, deadline=clock.now() + timedelta(days=3),
                        user_id=None)
