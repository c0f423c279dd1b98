"""Console tasks from real fieldwork: simulated calls settled as the dialer settles them, on a survey
that allows one attempt per case, so a case's outcome is decided on its first call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_driver import WALK_ALL
from sim_support import CERTAIN, Fieldwork, Scripted, scripted
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialer.outcomes import apply_result
from dialer.policy import REFUSAL_CONVERSION_HOURS
from ivr.channels.simulated import SimulatedChannel, World
from survey import aapor
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import Case, FollowUpTask
from survey.vocabulary import CaseStatus, TaskKind, TaskStatus

PLAIN = {**WALK_ALL, "q_safety": "2", "q_suggest_yn": "2"}
RESIDENTS = {
    "partial": lambda: Scripted(PLAIN, hang_up_at="q_police"),
    "soft refusal": lambda: Scripted(PLAIN, hang_up_at="consent"),
    "operator": lambda: Scripted({**PLAIN, "q_court": "0"}),
    "complete": lambda: Scripted(PLAIN),
}


def one_attempt(sessions: sessionmaker[Session], clock: VirtualClock, world: World,
                **retry: object) -> Fieldwork:
    return Fieldwork(sessions, clock, world, settings={"retry_policy": {"max_attempts": 1, **retry}})


def dial(fieldwork: Fieldwork, case_id: int, resident: Scripted) -> None:
    """One call on the simulated channel, its result applied by ``dialer.outcomes``."""
    channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, fieldwork.world, seed=3, behaviour=CERTAIN,
                               resident=scripted(resident))
    request = fieldwork.request(case_id)
    result = channel.place_call(request)
    with session_scope(fieldwork.sessions) as s:
        apply_result(s, request.attempt_id, result, fieldwork.clock)


def campaign(fieldwork: Fieldwork) -> dict[str, int]:
    cases = {}
    for i, (name, resident) in enumerate(RESIDENTS.items()):
        cases[name] = fieldwork.add_case(f"+861380000{i:04d}")
        dial(fieldwork, cases[name], resident())
    return cases


def tasks(session: Session, case_id: int) -> list[tuple[str, str]]:
    return [(t.kind, t.status) for t in session.scalars(
        select(FollowUpTask).where(FollowUpTask.case_id == case_id).order_by(FollowUpTask.id))]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_partials_soft_refusals_and_operator_requests_become_console_tasks(
        sessions: sessionmaker[Session], clock: VirtualClock, reachable_world: World) -> None:
    fieldwork = one_attempt(sessions, clock, reachable_world)
    cases = campaign(fieldwork)
    with sessions() as s:
        assert tasks(s, cases["partial"]) == [(TaskKind.PARTIAL, TaskStatus.OPEN)]
        assert tasks(s, cases["soft refusal"]) == [(TaskKind.REFUSAL_CONVERSION, TaskStatus.OPEN)]
        assert tasks(s, cases["operator"]) == [(TaskKind.OPERATOR, TaskStatus.OPEN)]
        assert tasks(s, cases["complete"]) == []
        for name in ("partial", "soft refusal", "operator"):
            case = s.get(Case, cases[name])
            assert case is not None and (case.status, case.final_disposition) == (CaseStatus.FOLLOW_UP, None)
        conversion = s.scalars(select(FollowUpTask).where(FollowUpTask.case_id == cases["soft refusal"])).one()
        assert conversion.due_at is not None
        assert conversion.due_at - conversion.created_at == timedelta(hours=REFUSAL_CONVERSION_HOURS)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_case_gets_one_second_chance_then_its_final_code(
        sessions: sessionmaker[Session], clock: VirtualClock, reachable_world: World) -> None:
    fieldwork = one_attempt(sessions, clock, reachable_world)
    case_id = fieldwork.add_case("+8613800009999")
    dial(fieldwork, case_id, RESIDENTS["partial"]())
    with session_scope(sessions) as s:
        s.scalars(select(FollowUpTask)).one().status = TaskStatus.DONE  # staff called; still partial
    dial(fieldwork, case_id, Scripted(PLAIN, hang_up_at="q_court"))
    with sessions() as s:
        assert tasks(s, case_id) == [(TaskKind.PARTIAL, TaskStatus.DONE)]
        case = s.get(Case, case_id)
        assert case is not None and (case.status, case.final_disposition) == (CaseStatus.FINAL, aapor.PARTIAL)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_settings_can_turn_the_second_chance_off(
        sessions: sessionmaker[Session], clock: VirtualClock, reachable_world: World) -> None:
    fieldwork = one_attempt(sessions, clock, reachable_world, staff_partials=False, refusal_conversion_hours=None)
    cases = campaign(fieldwork)
    with sessions() as s:
        finals = {name: s.get(Case, case_id).final_disposition for name, case_id in cases.items()}  # type: ignore[union-attr]
        assert finals == {"partial": aapor.PARTIAL, "soft refusal": aapor.REFUSAL, "operator": None,
                          "complete": aapor.COMPLETE}
        assert [kind for kind, _status in tasks(s, cases["operator"])] == [TaskKind.OPERATOR]
