"""The case counts the database keeps (migration 0009) against a full recount of the cases."""

from __future__ import annotations

from collections import Counter

from dialer_fakes import (
    VAULT,
    ScriptedChannel,
    add_numbers,
    assert_counts_match_cases,
    make_survey,
    random_outcomes,
)
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from dialer import counts, quotas
from dialer.close import close_survey
from dialer.worker import Stop, WorkerOptions, run_worker
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case, CaseCount, Survey
from survey.vocabulary import CaseStatus


def test_counts_equal_a_recount_through_a_campaign(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(6, 6, 6))
        add_numbers(s, survey, 40, clock.now())
    with session_scope(sessions) as s:
        assert_counts_match_cases(s)
        assert sum(p.fresh for p in quotas.progress(s, survey.id)) == 120
    report = run_worker(sessions, ScriptedChannel(clock, default=random_outcomes(5)), clock, VAULT,
                        WorkerOptions(survey="S1", owner="w1"))
    assert report.stop_reason == Stop.QUOTAS_MET
    with session_scope(sessions) as s:
        assert_counts_match_cases(s)
        progress = quotas.progress(s, survey.id)
        completes = dict(s.execute(select(Case.stratum_id, func.count()).where(Case.final_disposition == "1.1")
                                   .group_by(Case.stratum_id)).all())
        assert {p.stratum_id: p.completes for p in progress} == completes
        assert all(p.completes >= 6 for p in progress)
        close_survey(s, s.scalars(select(Survey)).one(), clock)
    with session_scope(sessions) as s:  # bulk statements outside the dialer are counted too
        s.execute(update(Case).where(Case.status == CaseStatus.HELD).values(status=CaseStatus.NEW))
        called = select(CallAttempt.case_id)
        s.execute(delete(Case).where(Case.status == CaseStatus.NEW, Case.id.not_in(called)))
        s.execute(update(Case).where(Case.final_disposition == "1.1").values(final_disposition="2.10"))
    with session_scope(sessions) as s:
        assert_counts_match_cases(s)
        assert all(p.completes == 0 and p.fresh == 0 for p in quotas.progress(s, survey.id))


def test_progress_lists_every_township_in_code_order_those_without_cases_at_zero(
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(4, 0, 9))
        empty = quotas.progress(s, survey.id)
        add_numbers(s, survey, 3, clock.now())
        s.execute(update(Case).where(Case.stratum_id == survey.strata[2].id).values(status=CaseStatus.LEASED))
    assert [(p.code, p.quota, p.dialable, p.fresh, p.leased, p.final, p.completes) for p in empty] == [
        ("T01", 4, 0, 0, 0, 0, 0), ("T02", 0, 0, 0, 0, 0, 0), ("T03", 9, 0, 0, 0, 0, 0)]
    with session_scope(sessions) as s:
        assert [(p.code, p.dialable, p.fresh, p.leased) for p in quotas.progress(s, survey.id)] == [
            ("T01", 3, 3, 0), ("T02", 3, 3, 0), ("T03", 0, 0, 3)]


def test_folding_the_shards_keeps_every_count_and_passes_by_a_held_row(
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(4, 4))
        add_numbers(s, survey, 10, clock.now())
        ids = list(s.scalars(select(Case.id).order_by(Case.id)))
    for case_id in ids[:12]:  # a transaction each: on PostgreSQL their counts fall in several shards
        with session_scope(sessions) as s:
            s.execute(update(Case).where(Case.id == case_id).values(status=CaseStatus.LEASED))
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    with session_scope(sessions) as s:
        rows_before = s.scalar(select(func.count()).select_from(CaseCount)) or 0
        assert rows_before > 4 if postgres else rows_before == 4  # 2 townships x new, leased
    with sessions() as holder:  # a worker's transaction holding one township's leased counts
        holder.execute(update(Case).where(Case.id == ids[0]).values(status=CaseStatus.SCHEDULED))
        holder.flush()
        with session_scope(sessions) as s:
            s.execute(text("SET LOCAL lock_timeout = '2s'") if postgres else select(1))
            written = counts.fold(s, survey.id)
        holder.commit()
    with session_scope(sessions) as s:
        assert_counts_match_cases(s)
        assert [(p.fresh, p.leased) for p in quotas.progress(s, survey.id)] == [(0, 9), (8, 2)]
        if postgres:
            assert written > 0 and counts.fold(s, survey.id) > 0  # the second fold takes the held rows
    with session_scope(sessions) as s:
        assert_counts_match_cases(s)
        by_shard = Counter(s.scalars(select(CaseCount.shard)))
        assert by_shard == (Counter({counts.FOLDED: 4}) if postgres else Counter({0: 5}))  # SQLite keeps a 0
