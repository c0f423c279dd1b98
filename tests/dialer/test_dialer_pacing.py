"""Pacing (lines, calls per second, abandon cap, back-off), caller-ID health, live counters."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from dialer_fakes import VAULT, ScriptedChannel, Step, add_numbers, answered, make_survey
from sqlalchemy.orm import Session, sessionmaker

from dialer.callerid import AnswerRate, CallerIdPool, answer_rates, flag_low
from dialer.pacer import Pacer
from dialer.policy import CallerIdHealth, DialPolicy
from dialer.protocol import CallRequest, CallResult
from dialer.stats import final_dispositions, live_counters
from dialer.worker import WorkerOptions, run_worker
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import Survey
from survey.vocabulary import CallStatus

NOW = datetime(2026, 11, 2, 10, 30)


def _pacer(**pacing: object) -> Pacer:
    return Pacer(DialPolicy.parse(pacing=pacing).pacing)


def _answered(interview: str = "complete", cause: str | None = None) -> CallResult:
    return CallResult(CallStatus.ANSWERED, NOW, NOW, interview_status=interview, hangup_cause=cause)


def test_lines_and_calls_per_second_per_trunk() -> None:
    pacer = _pacer(trunks=[{"name": "a", "lines": 2, "cps": 2}, {"name": "b", "lines": 1, "cps": 1}])
    assert pacer.free_lines(NOW) == 3
    assert sorted(pacer.assign(NOW, 5)) == ["a", "a", "b"]
    pacer.sent("a", NOW, NOW + timedelta(minutes=1))
    assert pacer.send_time("a", NOW) == NOW + timedelta(seconds=0.5)
    assert pacer.free_lines(NOW, external=1) == 1
    assert pacer.next_event(NOW) == NOW + timedelta(minutes=1)
    assert pacer.free_lines(NOW + timedelta(minutes=1)) == 3


def test_a_call_sent_late_does_not_slow_the_rate_and_a_pause_brings_no_burst() -> None:
    pacer = _pacer(trunks=[{"name": "a", "lines": 100, "cps": 10}])  # one call every 100 ms
    pacer.sent("a", NOW, None)
    pacer.sent("a", NOW + timedelta(milliseconds=130), None)  # due at 100 ms, sent 30 ms late
    assert pacer.send_time("a", NOW) == NOW + timedelta(milliseconds=200)  # not 230: the rate holds
    later = NOW + timedelta(seconds=5)  # a pause
    pacer.sent("a", later, None)
    assert pacer.send_time("a", later) == later + timedelta(milliseconds=100)


def test_lines_that_free_up_soon_count_ahead_and_a_call_waits_for_its_line() -> None:
    pacer = _pacer(trunks=[{"name": "a", "lines": 2, "cps": 10}])
    pacer.sent("a", NOW, NOW + timedelta(seconds=30))
    pacer.sent("a", NOW, NOW + timedelta(seconds=90))
    assert pacer.free_lines(NOW) == 0
    assert pacer.free_lines(NOW, within=timedelta(minutes=1)) == 1
    assert pacer.assign(NOW, 2, within=timedelta(minutes=1)) == ["a"]
    assert pacer.send_time("a", NOW) == NOW + timedelta(seconds=30)


def test_abandoned_transfers_above_the_cap_narrow_the_lines_until_they_recover() -> None:
    pacer = _pacer(trunks=[{"lines": 20}], abandon={"cap": 0.03, "window": 50})
    for i in range(50):
        pacer.observe(_answered("operator", "no_agent") if i % 10 == 0 else _answered(), NOW)
    assert pacer.abandon_rate() == 0.1
    narrowed = pacer.free_lines(NOW)
    assert 1 <= narrowed < 20
    for _ in range(400):
        pacer.observe(_answered(), NOW)
    assert pacer.free_lines(NOW) == 20


def test_push_back_pauses_and_doubles_until_a_call_goes_through() -> None:
    pacer = _pacer(backoff={"initial_s": 5, "max_s": 12})
    refused = CallResult(CallStatus.FAILED, NOW, NOW, hangup_cause="rate_limited")
    pacer.observe(refused, NOW)
    assert pacer.free_lines(NOW + timedelta(seconds=4)) == 0
    assert pacer.free_lines(NOW + timedelta(seconds=5)) == 10
    pacer.observe(refused, NOW)
    pacer.observe(refused, NOW)
    assert pacer.backoff_until == NOW + timedelta(seconds=12)  # 5, 10, then capped at 12
    pacer.observe(CallResult(CallStatus.BUSY, NOW, NOW), NOW)
    pacer.observe(refused, NOW)
    assert pacer.backoff_until == NOW + timedelta(seconds=5)
    pacer.observe(CallResult(CallStatus.FAILED, NOW, NOW, hangup_cause="network"), NOW)
    assert pacer.backoff_until == NOW + timedelta(seconds=5)  # a plain failure is not push-back


def test_a_number_answered_far_less_than_the_others_is_flagged() -> None:
    health = CallerIdHealth(min_attempts=50, flag_ratio=0.6)
    rates = [AnswerRate("A", 100, 30), AnswerRate("B", 100, 25), AnswerRate("C", 100, 10), AnswerRate("D", 10, 0)]
    assert flag_low(rates, health) == {"C"}
    assert flag_low([AnswerRate("A", 100, 30)], health) == set()


def test_the_pool_rotates_and_leaves_out_flagged_numbers() -> None:
    A, B, C = "+862712340", "+862712341", "+862712342"  # caller IDs are checked as E.164 numbers
    policy = DialPolicy.parse(pacing={"trunks": [{"name": "t", "caller_ids": [A, B, C]}],
                                      "caller_id_health": {"window": 40, "min_attempts": 20}})
    pool = CallerIdPool(policy.pacing.trunks, policy.pacing.caller_id_health)
    assert sorted(pool.choose("t") for _ in range(3)) == [A, B, C]
    for i in range(40):
        pool.record(A, CallStatus.ANSWERED if i % 3 else CallStatus.NO_ANSWER)
        pool.record(B, CallStatus.ANSWERED if i % 2 else CallStatus.BUSY)
        pool.record(C, CallStatus.NO_ANSWER)
        pool.record(C, CallStatus.FAILED)  # says nothing about the caller ID
    assert pool.flagged == {C}
    assert {pool.choose("t") for _ in range(10)} == {A, B}
    assert pool.rates()[2] == AnswerRate(C, 40, 0)


def _spam_aware(seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)

    def step(request: CallRequest) -> Step:
        if request.caller_id == "+862712340" or rng.random() > 0.4:
            return Step(CallStatus.NO_ANSWER, seconds=30)
        return answered("refused", 30)

    return step


def test_a_labelled_caller_id_is_noticed_and_rotated_out(sessions: sessionmaker[Session],
                                                        clock: VirtualClock) -> None:
    settings = {"pacing": {"trunks": [{"name": "main", "lines": 5, "cps": 5,
                                       "caller_ids": ["+862712340", "+862712341", "+862712342"]}],
                           "caller_id_health": {"window": 100, "min_attempts": 30, "flag_ratio": 0.5}}}
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(500,), settings=settings)
        add_numbers(s, survey, 300, clock.now())
    channel = ScriptedChannel(clock, default=_spam_aware(3))
    run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey="S1", until=clock.now() + timedelta(hours=2)))
    used = [c.request.caller_id for c in channel.calls]
    assert len(used) > 200
    assert "+862712340" in used[:60] and "+862712340" not in used[150:]
    with session_scope(sessions) as s:
        survey_id = s.query(Survey).one().id
        rates = answer_rates(s, survey_id)
        series = answer_rates(s, survey_id, bucket=timedelta(hours=1))
        by_trunk = answer_rates(s, survey_id, by="trunk")
    health = DialPolicy.parse(pacing=settings["pacing"]).pacing.caller_id_health
    assert flag_low(rates, health) == {"+862712340"}
    assert {r.key for r in series} == {r.key for r in rates} and all(r.bucket is not None for r in series)
    assert [r.key for r in by_trunk] == ["main"] and by_trunk[0].attempts == len(used)


def test_live_counters(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(50,), settings={"retry_policy": {"release_open_per_remaining": 0.1}})
        add_numbers(s, survey, 30, clock.now(), replicate_size=20)
    channel = ScriptedChannel(clock, default=Step(CallStatus.NON_WORKING, seconds=5))
    run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey="S1", until=clock.now() + timedelta(seconds=30),
                                                              lines=1, cps=1))
    with session_scope(sessions) as s:
        survey = s.query(Survey).one()
        counters = live_counters(s, survey, clock.now())
        codes = final_dispositions(s, survey.id)
    placed = len(channel.calls)
    assert 5 <= placed <= 6
    assert (counters.final, counters.held, counters.total) == (placed, 10, 30)
    assert counters.due == counters.dialable == 20 - placed
    assert counters.window_open and counters.next_window == clock.now()
    assert counters.lines_in_use == 0 and counters.leases_by_worker == {}
    assert codes == {"4.31": placed}
