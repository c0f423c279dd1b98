"""What becomes of a call: busy, no answer, congestion and the rest; an answering machine; the
operator key with and without an operator line; Local channels."""

from __future__ import annotations

import pytest
from ari_fake import FakeAsterisk, Resident, answers
from asterisk_world import COMPLETE, SQLITE_ONLY, World, wait_until_idle

from ivr.channels.asterisk.causes import unanswered_status
from survey import aapor
from survey.vocabulary import AttemptStatus, CallStatus, InterviewStatus, TaskKind

NUMBER = "+8613800138000"
TO_OPERATOR = ("1", "1", "1", "1", "0")  # 普通话, consent, screening, then 0 at the first question


@pytest.mark.parametrize(("cause", "status"), [
    (17, CallStatus.BUSY), (18, CallStatus.NO_ANSWER), (19, CallStatus.NO_ANSWER), (0, CallStatus.NO_ANSWER),
    (1, CallStatus.NON_WORKING), (3, CallStatus.NON_WORKING), (28, CallStatus.NON_WORKING),
    (34, CallStatus.FAILED), (38, CallStatus.FAILED), (41, CallStatus.FAILED), (42, CallStatus.FAILED),
    (None, CallStatus.UNKNOWN),
])
def test_hang_up_causes_of_unanswered_calls(cause: int | None, status: str) -> None:
    assert unanswered_status(cause) == status


def test_unanswered_calls_are_reported_with_their_cause(fake: FakeAsterisk, world: World, open_channel) -> None:
    expected = {  # number: (resident, call status, hang-up cause, AAPOR temporary code)
        "+8613800000001": (Resident(outcome="busy"), CallStatus.BUSY, "17", aapor.BUSY),
        "+8613800000002": (Resident(outcome="no_answer"), CallStatus.NO_ANSWER, "19", aapor.NO_ANSWER),
        "+8613800000003": (Resident(ring_s=45), CallStatus.NO_ANSWER, "19", aapor.NO_ANSWER),  # rings out
        "+8613800000004": (Resident(outcome="congestion"), CallStatus.FAILED, "34", aapor.TECHNICAL),
        "+8613800000005": (Resident(outcome="unallocated"), CallStatus.NON_WORKING, "1", aapor.NON_WORKING),
        "+8613800000006": (Resident(outcome="failure"), CallStatus.FAILED, "38", aapor.TECHNICAL),
    }
    channel = open_channel()
    attempts = {}
    for number, (resident, *_rest) in expected.items():
        fake.residents[number] = resident
        request = world.dial(number)
        assert channel.place_call(request) is None
        attempts[number] = request.attempt_id
    wait_until_idle(channel)
    for number, (_resident, status, cause, temp) in expected.items():
        attempt = world.outcome(attempts[number]).attempt
        assert (attempt.outcome, attempt.hangup_cause, attempt.temp_disposition) == (status, cause, temp), number
        assert attempt.answered_at is None


@SQLITE_ONLY
def test_a_busy_local_channel_is_busy_though_its_cause_is_0(fake: FakeAsterisk, world: World, open_channel) -> None:
    """As a real Asterisk 22.10.1 did (tests/asterisk/recorded/local_busy.json): the other half of
    the Local channel runs Busy() and ends with 17; the half the app originated ends with cause 0,
    and only its Dial event says BUSY (CONGESTION likewise)."""
    expected = {"8613800000001": ("busy", CallStatus.BUSY, "17"), "8613800000004": ("congestion", CallStatus.FAILED, "34")}
    channel = open_channel(endpoint="Local/{digits}@residents")
    attempts = {}
    for digits, (outcome, *_rest) in expected.items():
        fake.residents[digits] = Resident(outcome=outcome)
        request = world.dial(f"+{digits}")
        channel.place_call(request)
        attempts[digits] = request.attempt_id
    wait_until_idle(channel)
    for digits, (_outcome, status, cause) in expected.items():
        attempt = world.outcome(attempts[digits]).attempt
        assert (attempt.outcome, attempt.hangup_cause) == (status, cause), digits


@SQLITE_ONLY
def test_a_refused_originate_is_a_failed_result_at_once(fake: FakeAsterisk, world: World, open_channel) -> None:
    channel = open_channel(endpoint="{number}")  # no technology: Asterisk answers 400
    result = channel.place_call(world.dial(NUMBER))
    assert result is not None and result.status == CallStatus.FAILED
    assert result.error is not None and "Invalid endpoint" in result.error
    assert channel.lines_in_use() == 0


@SQLITE_ONLY
def test_an_answering_machine_ends_the_call(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents[NUMBER] = Resident(answers(*COMPLETE), amd="MACHINE", amd_cause="LONGGREETING-2500-1500")
    channel = open_channel(amd_context="minyi-amd")
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.MACHINE
    assert out.attempt.amd_result == "MACHINE:LONGGREETING-2500-1500"
    assert out.attempt.temp_disposition == aapor.MACHINE_UNKNOWN
    assert out.interview is None
    kinds = [k for k, _ in fake.requests if k not in ("channels.list", "applications.get")]  # reconciling on connect
    assert kinds == ["channels.originate", "channels.answer", "channels.continueInDialplan", "channels.hangup"]
    assert dict(fake.requests)["channels.continueInDialplan"] == {"context": "minyi-amd", "extension": "s",
                                                                  "priority": "1"}


@SQLITE_ONLY
def test_a_person_after_amd_is_interviewed_even_without_channel_destroyed(fake: FakeAsterisk, world: World,
                                                                          open_channel) -> None:
    fake.stasis_end_only = True  # re-entered from the dialplan: StasisEnd is all the app gets
    fake.residents[NUMBER] = Resident(answers(*COMPLETE))
    channel = open_channel(amd_context="minyi-amd")
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel, timeout_s=10)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED and out.attempt.amd_result == "HUMAN:HUMAN-500-500"
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE


@SQLITE_ONLY
def test_zero_connects_the_resident_to_an_operator(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents[NUMBER] = Resident(answers(*TO_OPERATOR))
    fake.residents["operator"] = Resident(talk_s=5)
    channel = open_channel(operator_endpoint="PJSIP/operator@pbx")
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.OPERATOR
    assert out.attempt.outcome == CallStatus.ANSWERED
    assert [t.kind for t in out.tasks] == [TaskKind.OPERATOR]
    calls = [q for k, q in fake.requests if k == "channels.originate"]
    assert calls[1]["endpoint"] == "PJSIP/operator@pbx" and calls[1]["appArgs"] == f"operator,{request.attempt_id}"
    bridged = [q["channel"] for k, q in fake.requests if k == "bridges.addChannel"]
    assert bridged == [calls[0]["channelId"], calls[1]["channelId"]]
    kinds = [k for k, _ in fake.requests if k not in ("channels.list", "applications.get")]  # reconciling on connect
    assert kinds.index("bridges.startMoh") < kinds.index("bridges.stopMoh") < kinds.index("bridges.destroy")
    assert kinds.index("bridges.stopMoh") < kinds.index("channels.hangup")  # the operator left first ...
    assert fake.live_channels() == [] and fake.bridges == {}  # ... so the resident was hung up too


@SQLITE_ONLY
def test_zero_without_an_operator_line_hangs_up_politely(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents[NUMBER] = Resident(answers(*TO_OPERATOR))
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.OPERATOR
    assert [t.kind for t in out.tasks] == [TaskKind.OPERATOR]
    plays = [q["media"] for k, q in fake.requests if k == "channels.play"]
    assert plays[-1] == "sound:minyi/zh/msg/operator"
    assert not any(k.startswith("bridges.") for k, _ in fake.requests)


@SQLITE_ONLY
def test_an_operator_who_does_not_answer(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents[NUMBER] = Resident(answers(*TO_OPERATOR))
    fake.residents["operator"] = Resident(outcome="no_answer")
    channel = open_channel(operator_endpoint="PJSIP/operator@pbx")
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.OPERATOR
    assert [t.kind for t in out.tasks] == [TaskKind.OPERATOR]
    plays = [q["media"] for k, q in fake.requests if k == "channels.play"]
    assert plays[-2:] == ["sound:minyi/zh/msg/transfer", "sound:minyi/zh/msg/operator"]
    assert fake.bridges == {}


@SQLITE_ONLY
def test_local_channels_are_originated_with_ulaw(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents["8613800138000"] = Resident(answers(*COMPLETE))
    channel = open_channel(endpoint="Local/{digits}@residents")
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    originate = dict(fake.requests)["channels.originate"]
    assert originate["endpoint"] == "Local/8613800138000@residents" and originate["formats"] == "ulaw"
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.attempt.status == AttemptStatus.COMPLETED
