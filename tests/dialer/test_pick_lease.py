"""PostgreSQL's one-statement pick and lease (dialer/pick_lease.py) chooses exactly the cases
dialer/picking.py chooses, in the same order, and leases them; the leased cases are read by a
status written in the SQL (the partial index ix_cases_leased, migration 0012)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from dialer_fakes import add_numbers, make_survey
from psycopg import _queries
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from dialer import leases, pick_lease, picking, stats
from dialer.quotas import Allotment
from survey.clock import VirtualClock
from survey.models import Case, Contact, DoNotCall, Survey
from survey.vocabulary import CaseStatus

pytestmark = pytest.mark.postgres
STATES = [CaseStatus.NEW] * 4 + [CaseStatus.SCHEDULED] * 4 + [CaseStatus.CALLBACK, CaseStatus.FINAL]


def _seeded(session: Session, clock: VirtualClock, rng: random.Random) -> tuple[int, list[int], list[int]]:
    """Five townships of 30 cases in random states, due in the last or the next hour (some due at
    the same minute, so ties go by id), a few numbers on the do-not-call list."""
    survey = make_survey(session, clock, quotas=[10, 20, 5, 0, 15])
    add_numbers(session, survey, 30, clock.now())
    ids = list(session.scalars(select(Case.id).where(Case.survey_id == survey.id)))
    for case_id in ids:
        status = rng.choice(STATES)
        due = None if status == CaseStatus.FINAL else clock.now() + timedelta(minutes=rng.randint(-60, 20))
        session.execute(update(Case).where(Case.id == case_id).values(status=status, next_attempt_at=due))
    for case_id in rng.sample(ids, 5):
        contact = session.get_one(Contact, session.get_one(Case, case_id).contact_id)
        session.add(DoNotCall(number_hash=contact.number_hash, added_at=clock.now(), source="staff"))
    session.flush()
    return survey.id, [s.id for s in survey.strata], ids


def _allotments(rng: random.Random, strata: list[int]) -> list[Allotment]:
    order = rng.sample(strata, rng.randint(1, len(strata)))
    allotted = []
    for stratum_id in order:
        share = rng.randint(0, 8)
        allotted.append(Allotment(stratum_id, share, rng.randint(share, 25), fresh=rng.random() < 0.8))
    return allotted


@pytest.mark.parametrize("seed", range(6))
def test_the_one_statement_chooses_what_the_pick_chooses(session: Session, clock: VirtualClock, db_url: str,
                                                         seed: int) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the one statement is PostgreSQL's")
    rng = random.Random(seed)
    survey_id, strata, ids = _seeded(session, clock, rng)
    leased_any = False
    for _ in range(12):
        allotted, limit = _allotments(rng, strata), rng.choice([1, 3, 10, 25, 60, 200])
        skip = set(rng.sample(ids, rng.randint(0, 10)))
        expected = picking.pick(session, survey_id, clock.now(), limit, allotted, skip)
        with session.begin_nested() as attempt:
            got = pick_lease.pick_and_lease(session, survey_id, clock.now(), limit, allotted, "w",
                                            timedelta(minutes=5), skip)
            assert got.chosen == expected, (allotted, limit)
            assert [row[0] for row in got.leased] == expected
            leased = session.scalars(select(Case.status).where(Case.id.in_(expected))).all()
            assert set(leased) <= {CaseStatus.LEASED}
            leased_any |= bool(expected)
            attempt.rollback()
    assert leased_any


def test_the_leased_cases_are_read_by_a_status_written_in_the_sql(session: Session, clock: VirtualClock) -> None:
    """Not a parameter: a prepared statement's generic plan reads the partial index ix_cases_leased
    only when the statement's text proves ``status = 'leased'``."""
    survey_id, _, _ = _seeded(session, clock, random.Random(1))
    sent: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: sent.append(args[2])  # noqa: E731 (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        leases.reclaimable(session, survey_id, clock.now(), lost=["w"])
        stats.live_counters(session, session.get_one(Survey, survey_id), clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    by_lease = [sql for sql in sent if "lease_owner" in sql and "status" in sql]
    assert len(by_lease) == 2 and all("cases.status = 'leased'" in sql for sql in by_lease), sent


def test_psycopg_converts_the_statement_once_not_on_every_pick(session: Session, clock: VirtualClock,
                                                              db_url: str) -> None:
    """psycopg keeps a statement's placeholders converted only for statements of at most 4,096
    bytes (its private ``_queries._query2pg`` cache): a longer pick was parsed again every time."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the one statement is PostgreSQL's")
    survey_id, strata, _ = _seeded(session, clock, random.Random(2))
    allotted = [Allotment(stratum_id, 2, 4) for stratum_id in strata]
    pick_lease.pick_and_lease(session, survey_id, clock.now(), 5, allotted, "w", timedelta(minutes=5))
    before = _queries._query2pg.cache_info().hits
    pick_lease.pick_and_lease(session, survey_id, clock.now(), 5, allotted, "w", timedelta(minutes=5))
    assert _queries._query2pg.cache_info().hits == before + 1


def test_without_allotments_the_statement_chooses_the_callbacks_as_the_pick_does(session: Session,
                                                                                 clock: VirtualClock,
                                                                                 db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the one statement is PostgreSQL's")
    survey_id, _, _ = _seeded(session, clock, random.Random(3))
    expected = picking.pick(session, survey_id, clock.now(), 50, [], set())
    got = pick_lease.pick_and_lease(session, survey_id, clock.now(), 50, [], "w", timedelta(minutes=5))
    assert expected and got.chosen == expected == [row[0] for row in got.leased]
