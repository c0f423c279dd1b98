"""A lost events WebSocket: the app reconnects with back-off, calls in progress carry on or are
reported, and nothing is originated before the new WebSocket is up."""

from __future__ import annotations

import time

import pytest
from ari_fake import FakeAsterisk, Resident
from asterisk_world import (
    ASKED,
    COMPLETE,
    COMPLETE_BY_PROMPT,
    SCALE,
    SQLITE_ONLY,
    World,
    wait_for,
    wait_until_idle,
)
from sqlalchemy import func, select

from ivr.channels.asterisk import Timing
from ivr.channels.asterisk.ari import AriUnavailable
from survey.models import Answer, Interview
from survey.vocabulary import CallStatus, InterviewStatus

GOES_ON, HANGS_UP, RINGING, LATE = "+8613800000001", "+8613800000002", "+8613800000003", "+8613800000004"


def _answers_given(world: World, case_id: int) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count(Answer.id)).join(Interview).where(Interview.case_id == case_id)) or 0


@SQLITE_ONLY
@pytest.mark.parametrize("clean", [False, True], ids=["tcp-reset", "close-frame"])
def test_calls_in_progress_are_reconciled_after_a_reconnect(fake: FakeAsterisk, world: World, open_channel,
                                                            clean: bool) -> None:
    fake.prompt_s = 4.0
    fake.residents[GOES_ON] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    fake.residents[HANGS_UP] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    fake.residents[RINGING] = Resident(ring_s=15, by_prompt=COMPLETE_BY_PROMPT)  # answers during the outage
    fake.residents[LATE] = Resident(outcome="busy")
    channel = open_channel()
    goes_on, hangs_up = world.dial(GOES_ON), world.dial(HANGS_UP)
    channel.place_call(goes_on)
    channel.place_call(hangs_up)
    wait_for(lambda: min(_answers_given(world, r.case_id) for r in (goes_on, hangs_up)) >= 3, what="three answers")
    ringing = world.dial(RINGING)
    channel.place_call(ringing)

    fake.drop_websocket(clean=clean, refuse_s=1.0)  # Asterisk answers 503 to everything for a second
    fake.hang_up(HANGS_UP)
    began = time.monotonic()
    late = world.dial(LATE)
    assert channel.place_call(late) is None  # waited for the new WebSocket, then originated
    assert time.monotonic() - began >= 0.8
    wait_until_idle(channel)

    assert channel.app is not None and channel.app.supervisor.connections == 2
    went_on = world.outcome(goes_on.attempt_id)
    assert went_on.interview is not None and went_on.interview.status == InterviewStatus.COMPLETE
    # each answer to its own question: the question in progress was asked again, not the one before
    assert went_on.answers == {question: int(key) for question, key in zip(ASKED[1:], COMPLETE[1:], strict=True)}
    hung_up = world.outcome(hangs_up.attempt_id)
    assert hung_up.attempt.outcome == CallStatus.ANSWERED
    assert hung_up.interview is not None and hung_up.interview.status == InterviewStatus.PARTIAL
    assert "ARI connection was down" in (hung_up.attempt.error or "")
    lost = world.outcome(ringing.attempt_id)  # answered while the app was not registered: Stasis failed
    assert lost.attempt.outcome == CallStatus.UNKNOWN and lost.interview is None
    assert world.outcome(late.attempt_id).attempt.outcome == CallStatus.BUSY


@SQLITE_ONLY
def test_the_prompt_playing_at_a_drop_is_stopped_and_its_question_asked_again(fake: FakeAsterisk, world: World,
                                                                             open_channel) -> None:
    """Seen on a real Asterisk: the prompt playing when the connection dropped played on, the
    question asked again queued behind it, and the resident's keys went unheard until it
    started (10 s); then the keys answered the wrong questions."""
    fake.prompt_s = 8.0
    fake.residents[GOES_ON] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    channel = open_channel()
    request = world.dial(GOES_ON)
    channel.place_call(request)
    wait_for(lambda: _answers_given(world, request.case_id) >= 3, what="three answers")
    wait_for(lambda: fake.run(lambda: [p.id for p in fake.playbacks.values() if p.state == "playing"]) != [],
             what="the next prompt playing")
    playing = fake.run(lambda: [p.id for p in fake.playbacks.values() if p.state == "playing"])
    fake.drop_websocket()
    wait_until_idle(channel)
    assert playing[0] in fake.interrupted
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers == {question: int(key) for question, key in zip(ASKED[1:], COMPLETE[1:], strict=True)}


@SQLITE_ONLY
def test_place_call_gives_up_when_asterisk_stays_away(fake: FakeAsterisk, world: World, open_channel) -> None:
    channel = open_channel(timing=Timing(scale=SCALE, connect_wait_s=0.5, backoff_initial_s=0.05))
    wait_for(lambda: fake.connected, what="the first connection")
    fake.drop_websocket(refuse_s=30)
    with pytest.raises(AriUnavailable, match="no ARI connection"):  # the dialer backs off and retries
        channel.place_call(world.dial(GOES_ON))
    assert channel.lines_in_use() == 0


@SQLITE_ONLY
def test_another_apps_channels_are_never_adopted(fake: FakeAsterisk, world: World, open_channel) -> None:
    """Seen on a real Asterisk: `minyi dial` (app minyi) beside the live test (app minyi-test)
    adopted the test's channel `minyi-1-...` - GET /channels lists every channel of the Asterisk -
    answered and played to it, and stored its end as the result of its own attempt 1. Only the
    channels the app is subscribed to (GET /applications/{app}: channel_ids) are adopted."""
    import httpx

    from ivr.channels.asterisk.ari import AriConfig

    request = world.dial("+8613800000099")  # attempt ids of two databases overlap
    other = f"minyi-{request.attempt_id}-0123456789abcdef"
    fake.residents["+8613800000098"] = Resident(ring_s=0.1)
    auth = {"Authorization": AriConfig(fake.url, fake.username, fake.password).authorization}
    r = httpx.post(f"{fake.url}/ari/channels", headers=auth, params={
        "endpoint": "PJSIP/+8613800000098@trunk", "app": "minyi-other", "appArgs": "1", "channelId": other})
    assert r.status_code == 200
    wait_for(lambda: other in fake.live_channels(), what="the other app's channel")
    channel = open_channel()
    wait_for(lambda: fake.connected and any(k == "applications.get" for k, _ in fake.requests), what="reconciling")
    time.sleep(20 * SCALE)
    assert channel.lines_in_use() == 0
    assert [k for k, _ in fake.requests[1:] if k not in ("channels.list", "applications.get")] == []
    assert world.outcome(request.attempt_id).attempt.outcome is None
    fake.hang_up("+8613800000098")
