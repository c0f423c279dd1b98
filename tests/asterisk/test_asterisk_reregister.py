"""The app registers again after losing its registration, as a real Asterisk takes it away: another
connection opening the events WebSocket with the same app name (ApplicationReplaced; the old
WebSocket stays open and hears nothing more), that connection leaving (the app is deactivated and,
once no channel of it is left, removed), and Asterisk restarting. Calls in progress carry on or end
with a hang-up cause, and no answer is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from ari_fake import FakeAsterisk, Resident
from asterisk_world import COMPLETE_BY_PROMPT, SCALE, SQLITE_ONLY, World, wait_for, wait_until_idle
from sqlalchemy import func, select
from websockets.sync.client import connect as ws_connect

from dialer.protocol import CallRequest
from ivr.channels.asterisk import AsteriskChannel, Timing
from ivr.channels.asterisk.ari import AriConfig, AriUnavailable
from ivr.channels.asterisk.causes import CONNECTION_LOST
from survey.models import Answer, Interview
from survey.vocabulary import CallStatus, InterviewStatus

pytestmark = SQLITE_ONLY
FIRST, SECOND, THIRD = "+8613800000011", "+8613800000012", "+8613800000013"
QUICK = Timing(scale=SCALE, backoff_initial_s=0.05, backoff_max_s=0.2, app_check_s=0.1, connect_wait_s=2.0)


@contextmanager
def another_connection(fake: FakeAsterisk) -> Iterator[None]:
    """Someone else's events WebSocket for the same app (a second `minyi ari`, a debugging tool)."""
    auth = AriConfig(fake.url, fake.username, fake.password).authorization
    url = fake.url.replace("http", "ws", 1) + f"/ari/events?app={fake.app}"
    with ws_connect(url, additional_headers={"Authorization": auth}):
        wait_for(lambda: fake.replaced >= 1, what="the app to be taken over")
        yield


def _answers(world: World, case_id: int) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count(Answer.id)).join(Interview).where(Interview.case_id == case_id)) or 0


def _interviews(world: World, case_id: int) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count(Interview.id)).where(Interview.case_id == case_id)) or 0


def _mid_interview(fake: FakeAsterisk, world: World, channel: AsteriskChannel) -> CallRequest:
    """A call to FIRST, three answers into its interview (and SECOND ready to answer next)."""
    fake.prompt_s = 4.0
    fake.residents[FIRST] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    fake.residents[SECOND] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    request = world.dial(FIRST)
    assert channel.place_call(request) is None
    wait_for(lambda: _answers(world, request.case_id) >= 3, what="three answers")
    return request


def _complete(world: World, number: str, channel: AsteriskChannel) -> None:
    request = world.dial(number)
    assert channel.place_call(request) is None
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE, out.attempt.error


def test_the_app_registers_again_once_another_connection_leaves(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel]) -> None:
    """Seen on a real Asterisk: while `minyi ari` ran, a second connection with its app name came
    and went, and `minyi ari` received no call from then on."""
    fake.residents[FIRST] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    channel = open_channel(timing=QUICK)
    assert channel.app is not None
    wait_for(lambda: fake.connected, what="the first registration")
    with another_connection(fake):
        wait_for(lambda: channel.app is not None and channel.app.supervisor.standing_by, what="standing by")
        with pytest.raises(AriUnavailable, match="another connection holds the app"):
            channel.place_call(world.dial(FIRST))
        assert fake.registered
    wait_for(lambda: channel.app is not None and channel.app.supervisor.connections == 2, what="registering again")
    wait_for(lambda: fake.registered and fake.connected, what="Asterisk to list the app again")
    assert channel.app.supervisor.replaced == 1
    _complete(world, FIRST, channel)


def test_a_call_in_progress_goes_on_in_the_process_that_took_the_app(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel],
        caplog: pytest.LogCaptureFixture) -> None:
    """Two processes serving one app name: the newer one takes the app and the older one's call,
    which it finishes; the older one registers again once the newer one has gone."""
    older = open_channel(timing=QUICK)
    request = _mid_interview(fake, world, older)
    newer = open_channel(timing=QUICK)
    wait_for(lambda: older.app is not None and older.app.supervisor.standing_by, what="the older to stand by")
    assert "the app 'minyi' is registered already" in caplog.text  # the newer said what it was doing
    wait_for(lambda: older.lines_in_use() == 0, what="the older to let go of its call")  # not hung up
    wait_for(lambda: world.outcome(request.attempt_id).attempt.outcome is not None, 30, "the newer to finish it")
    wait_until_idle(newer)
    newer.close()
    wait_for(lambda: older.app is not None and older.app.supervisor.connections == 2, what="registering again")

    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED and out.attempt.hangup_cause == "16", out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_procuratorate"] == 3 and out.answers["d_years"] == 15.0
    assert _interviews(world, request.case_id) == 1
    _complete(world, SECOND, older)
    assert _interviews(world, request.case_id) == 1  # the older process did not report the call again


def test_a_call_that_ends_while_another_connection_holds_the_app_gets_a_cause(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel]) -> None:
    """A connection that takes the app and leaves while a call is up leaves the app deactivated:
    Asterisk lists it while the call lasts (the resident hangs up on the silence) and, as a real
    one did, after it ends, until some app registers or unregisters; the app has the registry
    swept, registers again and reports the call it had let go."""
    channel = open_channel(timing=QUICK)
    request = _mid_interview(fake, world, channel)
    with another_connection(fake):
        wait_for(lambda: channel.app is not None and channel.app.supervisor.standing_by, what="standing by")
    answered = _answers(world, request.case_id)
    assert fake.registered and not fake.connected  # deactivated, still listed: the call is up
    fake.hang_up(FIRST)
    wait_for(lambda: world.outcome(request.attempt_id).attempt.outcome is not None, what="the call's result")
    assert channel.app is not None and channel.app.supervisor.connections == 2
    assert fake.other_apps and all(name.startswith("minyi-sweep-") for name in fake.other_apps)

    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.UNKNOWN and out.attempt.hangup_cause == CONNECTION_LOST
    assert out.attempt.answered_at is not None
    assert out.interview is not None and out.interview.status == InterviewStatus.IN_PROGRESS  # resumable
    assert len(out.answers) == answered
    _complete(world, SECOND, channel)


def test_the_app_registers_again_after_asterisk_restarts(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel]) -> None:
    """A restart ends every call without an event: each is reported with connection_lost, its
    answers kept, and the app registers again once Asterisk is back."""
    fake.prompt_s = 4.0
    fake.residents[FIRST] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    fake.residents[SECOND] = Resident(ring_s=600)
    fake.residents[THIRD] = Resident(by_prompt=COMPLETE_BY_PROMPT)
    channel = open_channel(timing=QUICK)
    talking, ringing = world.dial(FIRST), replace(world.dial(SECOND), ring_timeout_s=600)
    assert channel.place_call(talking) is None and channel.place_call(ringing) is None
    wait_for(lambda: _answers(world, talking.case_id) >= 3, what="three answers")
    answered = _answers(world, talking.case_id)
    fake.restart(refuse_s=1.0)
    assert not fake.registered
    wait_until_idle(channel)
    wait_for(lambda: fake.connected and channel.app is not None and channel.app.supervisor.connections == 2,
             what="registering again")

    cut = world.outcome(talking.attempt_id)
    assert cut.attempt.outcome == CallStatus.ANSWERED and cut.attempt.hangup_cause == CONNECTION_LOST
    assert cut.interview is not None and cut.interview.status == InterviewStatus.PARTIAL
    assert len(cut.answers) >= answered
    lost = world.outcome(ringing.attempt_id)
    assert lost.attempt.outcome == CallStatus.UNKNOWN and lost.attempt.hangup_cause == CONNECTION_LOST
    _complete(world, THIRD, channel)
