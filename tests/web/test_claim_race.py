"""Two interviewers pressing "next case" at the same moment never get the same task."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.staff import Staff, claim_next
from office.users import create_user
from survey.clock import VirtualClock
from survey.models import Case, Contact, FollowUpTask
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import Role, TaskKind, TaskStatus


def _one_task(sessions: sessionmaker[Session], clock: VirtualClock) -> list[Staff]:
    with sessions.begin() as s:
        survey = create_survey(s, "race", load_bundled(), clock, period="2026-11", strata=[StratumSpec("T01", "城关镇")])
        contact = Contact(number_enc=b"x", number_hash="race", number_masked="+86138****0001")
        s.add(contact)
        s.flush()
        case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id, status="follow_up",
                    created_at=clock.now(), updated_at=clock.now())
        s.add(case)
        s.flush()
        s.add(FollowUpTask(survey_id=survey.id, case_id=case.id, kind=TaskKind.PARTIAL, due_at=clock.now(),
                           created_at=clock.now()))
        staff = [create_user(s, f"race{i}", "a long password", Role.INTERVIEWER, clock) for i in range(2)]
        return [Staff(u.id, u.username) for u in staff]


def test_only_one_of_two_simultaneous_claims_wins(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    staff = _one_task(sessions, clock)
    start = threading.Barrier(len(staff))
    won: dict[int, int | None] = {}

    def claim(who: Staff) -> None:
        with sessions() as s:
            start.wait()
            task = claim_next(s, who, clock)
            won[who.id] = task.id if task else None
            s.commit()

    threads = [threading.Thread(target=claim, args=(who,)) for who in staff]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(v is not None for v in won.values()) == [False, True]
    with sessions() as s:
        task = s.scalars(select(FollowUpTask)).one()
        assert task.status == TaskStatus.IN_PROGRESS and won[task.assigned_to] == task.id
