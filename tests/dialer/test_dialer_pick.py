"""The dialer's pick: which due cases one pick chooses, in which order, on both back ends."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from dialer_fakes import add_numbers, make_survey
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dialer import leases, picking
from dialer.quotas import Allotment
from survey.clock import VirtualClock
from survey.models import Case, Contact, DoNotCall
from survey.vocabulary import CaseStatus


def _queues(session: Session, clock: VirtualClock) -> tuple[int, list[int], dict[int, list[int]]]:
    """A survey of three townships with six cases each; returns its id, the township ids and each
    township's case ids in import order."""
    survey = make_survey(session, clock, quotas=[5, 5, 5])
    add_numbers(session, survey, 6, clock.now())
    strata = [s.id for s in survey.strata]
    cases = {s: list(session.scalars(select(Case.id).where(Case.stratum_id == s).order_by(Case.id))) for s in strata}
    return survey.id, strata, cases


def _set(session: Session, ids: list[int], status: CaseStatus, due: datetime) -> None:
    session.execute(update(Case).where(Case.id.in_(ids)).values(status=status, next_attempt_at=due))


@pytest.mark.parametrize("terms", [picking._TERMS, 2])  # 2: the townships read in several statements
def test_callbacks_then_shares_then_caps_retries_before_fresh_earliest_first(
        session: Session, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch, terms: int) -> None:
    monkeypatch.setattr(picking, "_TERMS", terms)
    survey_id, (t1, t2, t3), c = _queues(session, clock)
    now = clock.now()
    for i, case_id in enumerate(c[t1][:4]):  # retries due 40, 30, 20, 10 minutes ago
        _set(session, [case_id], CaseStatus.SCHEDULED, now - timedelta(minutes=40 - 10 * i))
    _set(session, [c[t1][4]], CaseStatus.SCHEDULED, now + timedelta(minutes=5))  # not due yet
    _set(session, [c[t2][0]], CaseStatus.CALLBACK, now - timedelta(minutes=1))
    _set(session, [c[t3][0]], CaseStatus.CALLBACK, now - timedelta(minutes=2))
    _set(session, [c[t2][1]], CaseStatus.FINAL, now)
    opted_out = session.get_one(Contact, session.get_one(Case, c[t2][2]).contact_id)  # listed since the last sweep
    session.add(DoNotCall(number_hash=opted_out.number_hash, added_at=now, source="staff"))
    session.flush()
    allot = [Allotment(t2, share=2, cap=3), Allotment(t1, share=2, cap=5, fresh=False), Allotment(t3, share=1, cap=2)]

    ids = picking.pick(session, survey_id, now, 10, allot)

    # callbacks by due time; T2's share from its fresh numbers (its final and DNC cases left out);
    # T1's share from its earliest retries and no fresh numbers (fresh=False); T3's share; then caps
    assert ids == [c[t3][0], c[t2][0], c[t2][3], c[t2][4], c[t1][0], c[t1][1], c[t3][1],
                   c[t2][5], c[t1][2], c[t1][3]]
    assert picking.pick(session, survey_id, now, 3, allot) == [c[t3][0], c[t2][0], c[t2][3]]  # callbacks count


def test_a_dry_township_leaves_its_share_to_the_next_caps(session: Session, clock: VirtualClock) -> None:
    survey_id, (t1, t2, t3), c = _queues(session, clock)
    now = clock.now()
    _set(session, c[t1], CaseStatus.FINAL, now)
    _set(session, c[t2][:2], CaseStatus.SCHEDULED, now - timedelta(minutes=1))
    session.flush()
    allot = [Allotment(t1, share=4, cap=6), Allotment(t2, share=1, cap=4), Allotment(t3, share=1, cap=6)]

    ids = picking.pick(session, survey_id, now, 6, allot)

    assert ids == [c[t2][0], c[t3][0], c[t2][1], c[t2][2], c[t2][3], c[t3][1]]


@pytest.mark.postgres
def test_rows_another_worker_holds_are_passed_by_and_made_up(
        sessions: sessionmaker[Session], clock: VirtualClock, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's")
    with sessions.begin() as s:
        survey_id, (t1, _t2, _t3), c = _queues(s, clock)
    allot = [Allotment(t1, share=3, cap=3)]
    with sessions() as other, sessions() as mine:
        assert _lease_due(other, survey_id, clock.now(), 2, allot) == c[t1][:2]
        assert picking.pick(mine, survey_id, clock.now(), 3, allot) == c[t1][:3]  # the choice sees no locks
        assert _lease_due(mine, survey_id, clock.now(), 3, allot) == c[t1][2:5]


def _lease_due(session: Session, survey_id: int, now: datetime, limit: int, allot: list[Allotment]) -> list[int]:
    return [case.id for case in leases.lease_due(session, survey_id, now, limit, allot, "w", timedelta(minutes=5))]


def test_dialling_order_in_memory_chooses_what_the_pick_chooses(session: Session, clock: VirtualClock) -> None:
    """dialer/run_ahead.py picks among cases it holds with picking.dialling_order: the same ids,
    in the same order, as the statements on the same due cases, over many random queues."""
    rng = random.Random(7)
    survey_id, strata, c = _queues(session, clock)
    now = clock.now()
    statuses = [CaseStatus.NEW, CaseStatus.SCHEDULED, CaseStatus.CALLBACK, CaseStatus.FINAL]
    for _ in range(30):
        for case_id in (i for ids in c.values() for i in ids):
            _set(session, [case_id], rng.choice(statuses), now + timedelta(minutes=rng.randint(-30, 10)))
        allot = [Allotment(s, share=rng.randint(0, 3), cap=rng.randint(0, 6), fresh=rng.random() < 0.7)
                 for s in rng.sample(strata, k=rng.randint(1, 3))]
        limit = rng.randint(1, 12)
        due = session.execute(select(Case.id, Case.stratum_id, Case.status, Case.next_attempt_at).where(
            Case.survey_id == survey_id, Case.status != CaseStatus.FINAL, Case.next_attempt_at <= now)).all()
        assert picking.dialling_order(due, limit, allot) == picking.pick(session, survey_id, now, limit, allot)
