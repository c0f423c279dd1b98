"""Whole campaigns on a virtual clock: windows, holidays, retries, callbacks, quotas, DNC, closing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from dialer_fakes import VAULT, ScriptedChannel, Step, add_numbers, answered, make_survey, random_outcomes
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer import leases, quotas
from dialer.close import close_survey
from dialer.dnc import add_to_dnc
from dialer.leases import lease_due
from dialer.policy import DialPolicy
from dialer.worker import Progress, Stop, WorkerOptions, WorkerReport, run_worker
from survey import aapor
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case, Contact, Survey
from survey.vocabulary import CallStatus, CaseStatus

HOLIDAY = "2026-11-04"  # a Wednesday


def _campaign(sessions: sessionmaker[Session], clock: VirtualClock, *, quotas: tuple[int, ...] = (4, 4),
              per_stratum: int = 30, settings: dict[str, Any] | None = None) -> list[str]:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=quotas, settings=settings)
        return add_numbers(s, survey, per_stratum, clock.now())


def _run(sessions: sessionmaker[Session], clock: VirtualClock, channel: ScriptedChannel,
         **kw: Any) -> WorkerReport:
    options = WorkerOptions(survey="S1", owner="w1", **kw)
    return run_worker(sessions, channel, clock, VAULT, options)


def test_nothing_is_dialled_outside_windows_or_on_holidays(sessions: sessionmaker[Session],
                                                            clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(3, 3), settings={"holidays": [HOLIDAY]})
    channel = ScriptedChannel(clock, default=random_outcomes(1, complete_share=0.02))
    report = _run(sessions, clock, channel, until=clock.now() + timedelta(days=9))
    assert report.placed > 100
    with session_scope(sessions) as s:
        survey = s.scalars(select(Survey)).one()
        calendar = DialPolicy.from_survey(survey).calendar
        starts = s.scalars(select(CallAttempt.started_at)).all()
        scheduled = [t for t in s.scalars(select(Case.next_attempt_at)) if t is not None]
    local_days = {calendar.local(t).date().isoformat() for t in starts}
    assert HOLIDAY not in local_days
    assert len(local_days) >= 6  # it did work the other days
    assert all(calendar.is_open(t) for t in starts)
    assert all(calendar.is_open(t) for t in scheduled)
    assert all(calendar.local(t).hour >= 9 for t in starts)


def test_quota_stops_a_township_and_its_undialled_numbers_go_back_unreleased(sessions: sessionmaker[Session],
                                                                   clock: VirtualClock) -> None:
    numbers = _campaign(sessions, clock, quotas=(2, 50), per_stratum=20)
    t01 = numbers[:20]
    script = {n: [answered("complete")] for n in t01[:2]}
    channel = ScriptedChannel(clock, script, default=Step(CallStatus.NO_ANSWER))
    report = _run(sessions, clock, channel, until=clock.now() + timedelta(days=3))
    with session_scope(sessions) as s:
        t01_cases = s.scalars(select(Case).where(Case.stratum.has(code="T01"))).all()
        codes = [c.final_disposition for c in t01_cases]
        assert codes.count(aapor.COMPLETE) == 2
        assert [c.status for c in t01_cases].count(CaseStatus.HELD) == 18
        assert aapor.QUOTA_FILLED not in codes
        filled_at = max(c.final_at for c in t01_cases if c.final_at and c.final_disposition == aapor.COMPLETE)
        t01_ids = [c.id for c in t01_cases]
        late = s.scalar(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.case_id.in_(t01_ids), CallAttempt.started_at > filled_at))
        assert late == 0
        survey = s.scalars(select(Survey)).one()
        closed = close_survey(s, survey, clock)
        assert sum(closed.finalised.values()) == 20  # the T02 cases still open
    assert report.placed > 0
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Case).where(
            Case.status != CaseStatus.HELD, Case.final_disposition.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.temp_disposition.is_(None))) == 0
        assert s.scalars(select(Survey.status)).one() == "closed"


def test_campaign_stops_when_every_quota_is_met(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(3, 3), per_stratum=40)
    seen: list[Progress] = []
    channel = ScriptedChannel(clock, default=random_outcomes(7, complete_share=0.3))
    report = run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey="S1", progress_every_s=0), seen.append)
    assert report.stop_reason == Stop.QUOTAS_MET
    assert seen[-1].stop_reason == Stop.QUOTAS_MET
    assert [s.completes for s in seen[-1].strata] == [3, 3]
    assert sum(seen[-1].dispositions.values()) == report.results


def test_busy_number_is_retried_soon_and_capped_per_day(sessions: sessionmaker[Session],
                                                        clock: VirtualClock) -> None:
    numbers = _campaign(sessions, clock, quotas=(1,), per_stratum=1)
    channel = ScriptedChannel(clock, {numbers[0]: [Step(CallStatus.BUSY, seconds=10)]})
    _run(sessions, clock, channel, until=clock.now() + timedelta(hours=3))
    times = [c.at for c in channel.calls]
    assert len(times) == 3  # max_per_day
    assert times[1] - times[0] == timedelta(minutes=15, seconds=10)


def test_retries_rotate_through_dayparts_until_the_cap_then_code_by_dominant_outcome(
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    numbers = _campaign(sessions, clock, quotas=(1,), per_stratum=1)
    channel = ScriptedChannel(clock, {numbers[0]: [Step(CallStatus.NO_ANSWER)]})
    _run(sessions, clock, channel, until=clock.now() + timedelta(days=20))
    with session_scope(sessions) as s:
        survey = s.scalars(select(Survey)).one()
        calendar = DialPolicy.from_survey(survey).calendar
        case = s.scalars(select(Case)).one()
        assert case.final_disposition == aapor.NO_ANSWER
        assert case.attempts == 8
    parts = [calendar.daypart(c.at) for c in channel.calls]
    assert len(parts) == 8
    assert len(set(parts[:5])) == 5  # every day-part tried once before any repeats
    assert all(parts[i] != parts[i + 1] for i in range(len(parts) - 1))


def test_resident_callback_is_dialled_on_time_and_first(sessions: sessionmaker[Session],
                                                        clock: VirtualClock) -> None:
    numbers = _campaign(sessions, clock, quotas=(5,), per_stratum=40)
    wanted = datetime(2026, 11, 3, 12, 0)  # Tuesday 20:00 local
    channel = ScriptedChannel(clock, {numbers[5]: [answered("callback", 30, callback_at=wanted),
                                                   answered("complete")]},
                              default=Step(CallStatus.NO_ANSWER))
    _run(sessions, clock, channel, until=datetime(2026, 11, 3, 13, 0), lines=2)
    second = [c for c in channel.calls if c.request.number == numbers[5]][1]
    assert wanted <= second.at <= wanted + timedelta(seconds=60)  # the first line that frees up
    with session_scope(sessions) as s:
        case = s.scalars(select(Case).join(Contact).where(Contact.number_hash == VAULT.hash(numbers[5]))).one()
        assert case.final_disposition == aapor.COMPLETE
        assert case.callback_at is None


def test_do_not_call_numbers_are_never_dialled(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    numbers = _campaign(sessions, clock, quotas=(50,), per_stratum=10)
    with session_scope(sessions) as s:
        other = make_survey(s, clock, code="S2", quotas=(5,))
        add_numbers(s, other, 3, clock.now())  # numbers[0..2] in another survey
        add_to_dnc(s, VAULT.hash(numbers[0]), "staff", None, now=clock.now())
    opted_out = numbers[1]
    channel = ScriptedChannel(clock, {opted_out: [answered("opted_out", 20)]}, default=Step(CallStatus.NO_ANSWER))
    _run(sessions, clock, channel, until=clock.now() + timedelta(days=4))
    dialled = [c.request.number for c in channel.calls]
    assert numbers[0] not in dialled
    assert dialled.count(opted_out) == 1
    with session_scope(sessions) as s:
        in_s2 = s.scalars(select(Case).join(Survey).where(Survey.code == "S2")).all()
        by_hash = {c.contact.number_hash: c for c in in_s2}
        assert by_hash[VAULT.hash(opted_out)].final_disposition == aapor.REFUSAL
        assert by_hash[VAULT.hash(numbers[0])].final_disposition == aapor.REFUSAL


def test_replicates_are_released_as_open_cases_run_low(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(2,), settings={"retry_policy": {"release_open_per_remaining": 3}})
        add_numbers(s, survey, 40, clock.now(), replicate_size=5)
        assert s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.NEW)) == 5
    channel = ScriptedChannel(clock, default=Step(CallStatus.NON_WORKING))
    report = _run(sessions, clock, channel, until=clock.now() + timedelta(days=1))
    assert report.stop_reason == Stop.NO_CASES
    with session_scope(sessions) as s:
        released = set(s.scalars(select(Case.replicate).where(Case.status != CaseStatus.HELD)))
        assert released == set(range(1, 9))
        assert s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.HELD)) == 0


def test_lines_limit_concurrent_calls_on_the_virtual_clock(sessions: sessionmaker[Session],
                                                            clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(50,), per_stratum=30)
    channel = ScriptedChannel(clock, default=Step(CallStatus.NO_ANSWER, seconds=120))
    _run(sessions, clock, channel, until=clock.now() + timedelta(minutes=20), lines=3, cps=10)
    intervals = sorted((c.at, c.result.ended_at) for c in channel.calls if c.result)
    peak = max(sum(1 for a, b in intervals if a <= t < b) for t, _ in intervals)
    assert peak == 3
    assert len(intervals) >= 25  # 3 lines x 20 minutes / 2-minute calls, about 30


def test_calls_leased_ahead_wait_for_their_lines(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(50,), per_stratum=30)
    channel = ScriptedChannel(clock, default=Step(CallStatus.NO_ANSWER, seconds=30))
    _run(sessions, clock, channel, until=clock.now() + timedelta(minutes=5), lines=4, cps=10,
         lease_ahead=timedelta(minutes=2))
    intervals = sorted((c.at, c.result.ended_at) for c in channel.calls if c.result)
    assert max(sum(1 for a, b in intervals if a <= t < b) for t, _ in intervals) == 4
    gaps = [later[0] - earlier[1] for earlier, later in zip(intervals, intervals[4:], strict=False)]
    assert max(gaps) < timedelta(seconds=1)  # a line is taken again as soon as it frees


def test_a_township_filled_while_its_batch_is_dialled_gets_no_more_calls(sessions: sessionmaker[Session],
                                                                        clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(2,), per_stratum=20)
    report = _run(sessions, clock, ScriptedChannel(clock, default=answered("complete")), lines=10)
    assert report.stop_reason == Stop.QUOTAS_MET
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 2
        codes = s.scalars(select(Case.final_disposition)).all()
        held = s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.HELD))
    assert (codes.count(aapor.COMPLETE), held) == (2, 18)


def test_provider_push_back_pauses_dialling(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(50,), per_stratum=5, settings={"pacing": {"backoff": {"initial_s": 60}}})
    channel = ScriptedChannel(clock, default=Step(fails=True))
    _run(sessions, clock, channel, until=clock.now() + timedelta(minutes=3, seconds=30), lines=1)
    times = [c.at for c in channel.calls]
    assert [round((t - times[0]).total_seconds()) for t in times] == [0, 60, 180]
    with session_scope(sessions) as s:
        assert set(s.scalars(select(CallAttempt.temp_disposition))) == {aapor.TECHNICAL}


def test_a_replicate_waits_until_every_released_number_was_dialled(sessions: sessionmaker[Session],
                                                                   clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(10,))
        add_numbers(s, survey, 20, clock.now(), replicate_size=5)
        assert quotas.release_replicates(s, quotas.progress(s, survey.id), 8.0, clock.now()) == {}
        for case in s.scalars(select(Case).where(Case.status == CaseStatus.NEW)):
            case.status = CaseStatus.SCHEDULED
        s.flush()
        assert quotas.release_replicates(s, quotas.progress(s, survey.id), 8.0, clock.now()) == {"T01": 2}
        assert quotas.release_replicates(s, quotas.progress(s, survey.id), 8.0, clock.now()) == {}


def test_a_running_worker_follows_changed_settings_and_a_pause(sessions: sessionmaker[Session],
                                                              clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(50,), per_stratum=40)

    def supervisor(p: Progress) -> None:
        with session_scope(sessions) as s:
            survey = s.scalars(select(Survey)).one()
            if survey.holidays != ["2026-11-03"]:
                survey.holidays = ["2026-11-03"]
            elif p.now >= datetime(2026, 11, 4, 11, 0):
                survey.status = "paused"

    channel = ScriptedChannel(clock, default=Step(CallStatus.BUSY))
    report = run_worker(sessions, channel, clock, VAULT,
                        WorkerOptions(survey="S1", progress_every_s=0, lines=2), supervisor)
    assert report.stop_reason == Stop.SURVEY_STOPPED
    calendar = DialPolicy.parse().calendar
    days = {calendar.local(c.at).date().isoformat() for c in channel.calls}
    assert days == {"2026-11-02", "2026-11-04"}


def test_the_end_of_the_round_is_noticed_within_seconds(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _campaign(sessions, clock, quotas=(50,), per_stratum=3)
    channel = ScriptedChannel(clock, default=Step(CallStatus.NON_WORKING, seconds=5))
    report = _run(sessions, clock, channel, lines=1)
    assert report.stop_reason == Stop.NO_CASES
    last_end = max(c.result.ended_at for c in channel.calls if c.result is not None)
    assert report.ended - last_end <= timedelta(seconds=10)


def test_a_virtual_clock_waits_for_the_next_due_case_instead_of_leasing_in_vain(
        sessions: sessionmaker[Session], clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pick that comes back short has taken all that is due: the worker then waits for the next
    case to fall due (empty leases, each a transaction of its own, were once nearly half of them)."""
    _campaign(sessions, clock, quotas=(100, 100), per_stratum=40)
    sizes: list[int] = []

    def counted(*args: Any, **kw: Any) -> list[leases.Leased]:
        got = lease_due(*args, **kw)
        sizes.append(len(got))
        return got

    monkeypatch.setattr(leases, "lease_due", counted)
    report = _run(sessions, clock, ScriptedChannel(clock, default=random_outcomes(5)), until=clock.now() + timedelta(days=2),
                  lease_due_ahead=timedelta(0))  # every call leased when due (tests/dialer/test_run_ahead.py: ahead)
    assert report.placed > 80 and sum(sizes) == report.placed
    assert sizes.count(0) * 5 < len(sizes), (sizes.count(0), len(sizes))  # 25 of 60 before
