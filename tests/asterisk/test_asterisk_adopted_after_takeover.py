"""A call whose worker was taken for dead (its lease taken back, the attempt ended ``unknown``)
and whose channel a restarted app then adopts: while the interview goes on, its case is leased
again to the call's worker, so no other worker dials the resident; the real result settles it."""

from __future__ import annotations

from datetime import timedelta

from asterisk_world import SQLITE_ONLY, World
from sqlalchemy.orm import Session, sessionmaker

from calls.service import CallService
from dialer.leases import WORKER_LOST, reap
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case, Survey
from survey.vocabulary import AttemptStatus, CallStatus, CaseStatus, InterviewStatus

NUMBER = "+8613800138000"


def _leased_call(world: World, sessions: sessionmaker[Session], clock: VirtualClock) -> int:
    """A call of worker w1, answered, its interview under way."""
    attempt_id = world.dial(NUMBER).attempt_id
    with session_scope(sessions) as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None
        attempt.worker, attempt.status = "w1", AttemptStatus.IN_PROGRESS
        attempt.case.status, attempt.case.lease_owner = CaseStatus.LEASED, "w1"
        attempt.case.lease_expires_at = clock.now() + timedelta(minutes=30)
    return attempt_id


def _taken_back(world: World, sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = s.get(Survey, world.survey_id)
        assert survey is not None
        assert reap(s, world.survey_id, clock, DialPolicy.from_survey(survey), lost=["w1"]) == 1


def _case(sessions: sessionmaker[Session], attempt_id: int) -> tuple[str, str | None, str, str | None]:
    with sessions() as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None
        case: Case = attempt.case
        return case.status, case.lease_owner, attempt.status, attempt.hangup_cause


@SQLITE_ONLY
def test_an_adopted_call_holds_its_case_until_its_real_result(world: World, sessions: sessionmaker[Session],
                                                               clock: VirtualClock) -> None:
    calls = CallService(sessions, clock)
    attempt_id = _leased_call(world, sessions, clock)
    call, _turn = calls.answer(attempt_id, can_transfer=False)
    calls.close(call)
    _taken_back(world, sessions, clock)
    assert _case(sessions, attempt_id) == (CaseStatus.SCHEDULED, None, AttemptStatus.UNKNOWN, WORKER_LOST)
    call, _turn = calls.answer(attempt_id, can_transfer=False)  # the restarted app adopts the channel
    calls.close(call)
    assert _case(sessions, attempt_id)[:2] == (CaseStatus.LEASED, "w1")
    now = clock.now()
    applied = calls.finish(attempt_id, CallResult(CallStatus.ANSWERED, now, now, answered_at=now, hangup_cause="16",
                                                  interview_status=InterviewStatus.PARTIAL))
    assert applied is not None
    status, owner, attempt_status, cause = _case(sessions, attempt_id)
    assert (owner, attempt_status, cause) == (None, AttemptStatus.COMPLETED, "16")
    assert status in (CaseStatus.SCHEDULED, CaseStatus.CALLBACK)


@SQLITE_ONLY
def test_a_case_dialled_again_meanwhile_is_not_held_by_the_old_call(world: World, sessions: sessionmaker[Session],
                                                                    clock: VirtualClock) -> None:
    calls = CallService(sessions, clock)
    attempt_id = _leased_call(world, sessions, clock)
    call, _turn = calls.answer(attempt_id, can_transfer=False)
    calls.close(call)
    _taken_back(world, sessions, clock)
    world.dial(NUMBER)  # a newer attempt on the case
    with session_scope(sessions) as s:
        case = s.get(CallAttempt, attempt_id).case  # type: ignore[union-attr]
        case.status = CaseStatus.SCHEDULED  # as the newer call left it
    call, _turn = calls.answer(attempt_id, can_transfer=False)
    calls.close(call)
    assert _case(sessions, attempt_id)[:2] == (CaseStatus.SCHEDULED, None)
