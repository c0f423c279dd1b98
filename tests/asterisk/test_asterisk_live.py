"""Optional: calls on a real Asterisk (docs/asterisk.md, "Checking against a real Asterisk").
Skipped unless MINYI_TEST_ARI_URL names one. The residents are the dialplan context
``minyi-residents`` answering Local channels: any number answers with the keys of COMPLETE, and
the numbers ``+86139000000xx`` of the docs' test extensions are busy, congested, ring out, hang up,
leave a spoken suggestion, sound like a person or a machine to AMD(), or ask for a person. Staff
calls ring an interviewer's and a supervisor's "phones" in the same context."""

from __future__ import annotations

import os
import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from asterisk_world import COMPLETE, SQLITE_ONLY, World, wait_until_idle
from sqlalchemy import select
from staff_desk import Desk
from websockets.sync.client import connect as ws_connect

from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing, ari_config
from ivr.channels.asterisk.causes import CONNECTION_LOST
from ivr.channels.asterisk.supervisor import Supervisor
from survey import aapor
from survey.config import Settings
from survey.models import AuditLog, Recording
from survey.vocabulary import CallStatus, InterviewStatus, StaffCallEnd, StaffCallState, TaskKind

LIVE = os.environ.get("MINYI_TEST_ARI_URL")
APP = os.environ.get("MINYI_TEST_ARI_APP", "minyi-test")
RESTART = os.environ.get("MINYI_TEST_ASTERISK_RESTART")
DROP = os.environ.get("MINYI_TEST_ARI_DROP")
REREGISTER = Timing(app_check_s=1.0, backoff_max_s=2.0)

pytestmark = [pytest.mark.skipif(not LIVE, reason="no real Asterisk: set MINYI_TEST_ARI_URL (and _USERNAME, _PASSWORD)"),
              SQLITE_ONLY]


def _settings(tmp_path: Path) -> Settings:
    return Settings(ari_url=LIVE or "", ari_username=os.environ.get("MINYI_TEST_ARI_USERNAME", "minyi"),
                    ari_password=os.environ.get("MINYI_TEST_ARI_PASSWORD", ""), ari_app=APP,
                    asterisk_endpoint=os.environ.get("MINYI_TEST_ENDPOINT", "Local/{digits}@minyi-residents"),
                    recordings_dir=str(tmp_path))


def _channel(sessions: Any, clock: Any, tmp_path: Path, **overrides: Any) -> AsteriskChannel:
    settings = _settings(tmp_path)
    overrides.setdefault("amd_context", os.environ.get("MINYI_TEST_AMD_CONTEXT", ""))
    return AsteriskChannel(settings, sessions, clock, options=AsteriskOptions.from_settings(settings, **overrides),
                           drain_s=0)


def test_a_whole_interview_on_a_real_asterisk(world: World, sessions, clock, tmp_path) -> None:
    with _channel(sessions, clock, tmp_path) as channel:
        request = world.dial("+8613800138000")
        assert channel.place_call(request) is None
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED, out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_procuratorate"] == int(COMPLETE[8]) and out.answers["d_years"] == float(COMPLETE[14])
    assert out.attempt.hangup_cause == "16"  # our hang-up after the goodbye: Normal Clearing


def test_unanswered_calls_on_a_real_asterisk(world: World, sessions, clock, tmp_path) -> None:
    expected = {  # number: (ring timeout, call status, hang-up cause, AAPOR temporary code)
        "+8613900000017": (30, CallStatus.BUSY, "17", aapor.BUSY),  # Busy()
        "+8613900000034": (30, CallStatus.FAILED, "34", aapor.TECHNICAL),  # Congestion()
        "+8613900000019": (4, CallStatus.NO_ANSWER, "19", aapor.NO_ANSWER),  # Ringing(), rings out
        "+8613900000001": (30, CallStatus.NON_WORKING, "1", aapor.NON_WORKING),  # Hangup(1)
    }
    attempts = {}
    with _channel(sessions, clock, tmp_path) as channel:
        for number, (ring_s, *_rest) in expected.items():
            request = replace(world.dial(number), ring_timeout_s=ring_s)
            assert channel.place_call(request) is None
            attempts[number] = request.attempt_id
        wait_until_idle(channel, timeout_s=60)
    for number, (_ring, status, cause, temp) in expected.items():
        attempt = world.outcome(attempts[number]).attempt
        assert (attempt.outcome, attempt.hangup_cause, attempt.temp_disposition) == (status, cause, temp), number
        assert attempt.answered_at is None


def test_a_resident_who_hangs_up_mid_interview(world: World, sessions, clock, tmp_path) -> None:
    with _channel(sessions, clock, tmp_path) as channel:
        request = world.dial("+8613900000002")
        channel.place_call(request)
        wait_until_idle(channel, timeout_s=60)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED, out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.PARTIAL
    assert out.answers == {"consent": 1}
    assert out.attempt.hangup_cause == "16"


def test_a_spoken_suggestion_is_recorded_and_fetched(world: World, sessions, clock, tmp_path) -> None:
    with _channel(sessions, clock, tmp_path) as channel:
        request = world.dial("+8613900000003")
        channel.place_call(request)
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE, out.attempt.error
    assert out.answers["q_suggest_yn"] == 1 and out.answers["d_years"] == 15.0
    [recording] = out.recordings
    assert recording.duration_s is not None and 3 <= recording.duration_s <= 15
    assert recording.path is not None  # fetched from Asterisk into recordings_dir: 8 kHz 16-bit mono, the tones
    with wave.open(str(tmp_path / recording.path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        assert w.getnframes() >= 3 * 8000


def test_amd_tells_a_person_from_a_machine(world: World, sessions, clock, tmp_path) -> None:
    amd = os.environ.get("MINYI_TEST_AMD_CONTEXT") or f"{APP}-amd"
    with _channel(sessions, clock, tmp_path, amd_context=amd) as channel:
        person, machine = world.dial("+8613900000004"), world.dial("+8613900000005")
        channel.place_call(person)
        channel.place_call(machine)
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(machine.attempt_id)
    assert out.attempt.outcome == CallStatus.MACHINE, out.attempt.error
    assert out.attempt.amd_result is not None and out.attempt.amd_result.startswith("MACHINE:")
    assert out.interview is None
    out = world.outcome(person.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED, out.attempt.error
    assert out.attempt.amd_result is not None and out.attempt.amd_result.startswith("HUMAN:")
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["d_years"] == 15.0
    assert out.attempt.hangup_cause == "16"


def test_zero_bridges_the_resident_to_an_operator(world: World, sessions, clock, tmp_path) -> None:
    operator = os.environ.get("MINYI_TEST_OPERATOR_ENDPOINT", "Local/100@minyi-operators")
    with _channel(sessions, clock, tmp_path, operator_endpoint=operator) as channel:
        request = world.dial("+8613900000006")
        channel.place_call(request)
        wait_until_idle(channel, timeout_s=120)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED, out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.OPERATOR
    assert [t.kind for t in out.tasks] == [TaskKind.OPERATOR]


def _registering(channel: AsteriskChannel) -> Supervisor:
    assert channel.app is not None
    return channel.app.supervisor


def _answers_so_far(world: World, request: Any) -> set[tuple[str, object]]:
    return set(world.outcome(request.attempt_id).answers.items())


@contextmanager
def _another_client() -> Iterator[None]:
    """A second events WebSocket for the app (what a debugging tool or a second process does):
    Asterisk gives it the app and sends ours ApplicationReplaced."""
    settings = _settings(Path("."))
    url = settings.ari_url.rstrip("/").replace("http", "ws", 1) + f"/ari/events?app={APP}"
    with ws_connect(url, additional_headers={"Authorization": ari_config(settings).authorization}):
        yield


def test_the_app_registers_again_after_another_client_took_it(world: World, sessions, clock, tmp_path) -> None:
    with _channel(sessions, clock, tmp_path, timing=REREGISTER) as channel:
        channel.preflight(world.survey_id)
        with _another_client():
            _wait(lambda: _registering(channel).standing_by, 10, "ApplicationReplaced")
        # No channel of the app is left, so Asterisk removes the app as the other client leaves.
        _wait(lambda: _registering(channel).connections == 2, 15, "registering again")
        request = world.dial("+8613800138000")
        assert channel.place_call(request) is None
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE, out.attempt.error


def test_a_call_let_go_to_another_client_gets_a_cause(world: World, sessions, clock, tmp_path) -> None:
    """Taken mid-call by a client that serves nothing: the resident's dialplan ends the call; the
    app (deactivated, listed while the call lasts and after it, until Asterisk sweeps its
    registry) is swept, registers again and stores the call with connection_lost, its answers
    kept."""
    with _channel(sessions, clock, tmp_path, timing=REREGISTER) as channel:
        request = world.dial("+8613800138000")
        assert channel.place_call(request) is None
        _wait(lambda: len(_answers_so_far(world, request)) >= 2, 120, "two answers")
        with _another_client():
            _wait(lambda: _registering(channel).standing_by, 10, "ApplicationReplaced")
            before = _answers_so_far(world, request)
        _wait(lambda: world.outcome(request.attempt_id).attempt.outcome is not None, 300, "the call's result")
        assert _registering(channel).connections == 2
    out = world.outcome(request.attempt_id)
    assert out.attempt.hangup_cause == CONNECTION_LOST and out.attempt.outcome == CallStatus.UNKNOWN
    assert before <= set(out.answers.items())


@pytest.mark.skipif(not RESTART, reason="set MINYI_TEST_ASTERISK_RESTART to a command restarting Asterisk")
def test_the_app_registers_again_after_asterisk_restarts(world: World, sessions, clock, tmp_path) -> None:
    """MINYI_TEST_ASTERISK_RESTART, e.g. `asterisk -rx "core restart now"` or `sudo systemctl
    restart asterisk`: the call in progress is stored with connection_lost and its answers kept, the
    app registers again once Asterisk is back, and the next call runs to the end."""
    with _channel(sessions, clock, tmp_path, timing=REREGISTER) as channel:
        cut = world.dial("+8613800138000")
        assert channel.place_call(cut) is None
        _wait(lambda: len(_answers_so_far(world, cut)) >= 2, 120, "two answers")
        before = _answers_so_far(world, cut)
        subprocess.run(RESTART, shell=True, check=True, timeout=120)  # noqa: S602 - the tester's own command
        _wait(lambda: world.outcome(cut.attempt_id).attempt.outcome is not None, 120, "the cut call's result")
        _wait(lambda: _registering(channel).connections >= 2, 120, "registering again")
        request = world.dial("+8613800138001")
        assert channel.place_call(request) is None
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(cut.attempt_id)
    assert out.attempt.hangup_cause == CONNECTION_LOST, out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.PARTIAL
    assert before <= set(out.answers.items())
    done = world.outcome(request.attempt_id)
    assert done.interview is not None and done.interview.status == InterviewStatus.COMPLETE, done.attempt.error


@pytest.mark.skipif(not DROP, reason="set MINYI_TEST_ARI_DROP to a command cutting the app's connections to ARI")
def test_the_app_connects_again_after_its_connection_drops(world: World, sessions, clock, tmp_path) -> None:
    """MINYI_TEST_ARI_DROP, e.g. `ss -K dst 127.0.0.1 dport = 8088` (as root: every TCP connection
    to ARI reset, the REST ones too) or `asterisk -rx "ari shutdown websocket sessions"` (Asterisk
    closes the events WebSocket): the app connects again, the call in progress goes on with its
    answers kept and ends with a real hang-up cause."""
    with _channel(sessions, clock, tmp_path, timing=REREGISTER) as channel:
        request = world.dial("+8613800138000")
        assert channel.place_call(request) is None
        _wait(lambda: len(_answers_so_far(world, request)) >= 2, 120, "two answers")
        before = _answers_so_far(world, request)
        subprocess.run(DROP, shell=True, check=True, timeout=60)  # noqa: S602 - the tester's own command
        _wait(lambda: _registering(channel).connections >= 2, 60, "connecting again")
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED and out.attempt.hangup_cause == "16", out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert before <= set(out.answers.items()) and out.answers["d_years"] == float(COMPLETE[14])


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, f"no {what} within {timeout_s:g} s"
        time.sleep(0.1)


def _staff_desk(world: World, sessions: Any, clock: Any, tmp_path: Path, *, record: bool, number: str
                ) -> tuple[Settings, Desk]:
    """A staff call's settings (the world's phone keys) and an interviewer and supervisor whose
    phones are residents of the test dialplan (answering at once): MINYI_TEST_STAFF_ENDPOINT,
    MINYI_TEST_SUPERVISOR_ENDPOINT."""
    settings = replace(_settings(tmp_path), secret_key="test-secret")
    desk = Desk(world, settings, record=record, number=number,
                staff_phone=os.environ.get("MINYI_TEST_STAFF_ENDPOINT", "Local/8613700000001@minyi-residents"),
                supervisor_phone=os.environ.get("MINYI_TEST_SUPERVISOR_ENDPOINT",
                                                "Local/8613700000002@minyi-residents"))
    return settings, desk


def test_a_staff_call_is_bridged_recorded_and_heard_on_a_real_asterisk(world: World, sessions, clock,
                                                                        tmp_path) -> None:
    settings, desk = _staff_desk(world, sessions, clock, tmp_path, record=True, number="+8613800138000")
    options = AsteriskOptions.from_settings(settings)
    with AsteriskChannel(settings, sessions, clock, options=options, drain_s=0) as channel:
        channel.preflight(world.survey_id)
        call_id = desk.place()
        talking = desk.wait_state(call_id, StaffCallState.TALKING, 60)
        assert talking.resident_ref and talking.staff_answered_at and talking.ringing_at
        time.sleep(3)  # consent notice, then a few seconds of the resident's tones in the recording
        desk.listen(call_id)
        time.sleep(5)
        desk.hang_up(call_id)
        ended = desk.wait_state(call_id, StaffCallState.ENDED, 60)
    assert ended.end == StaffCallEnd.COMPLETED, ended.hangup_cause

    def recording(s: Any) -> Any:
        return s.scalars(select(Recording).where(Recording.staff_call_id == call_id)).one()
    row = desk.read(recording)
    with wave.open(str(Path(settings.recordings_dir) / row.path)) as w:  # the bridge's mix, brought home
        assert (w.getframerate(), w.getnchannels()) == (8000, 1) and w.getnframes() > 0
    assert desk.read(lambda s: s.scalars(select(AuditLog).where(AuditLog.action == "staff_call_listened")).one())


def test_a_busy_resident_of_a_staff_call_is_coded_on_a_real_asterisk(world: World, sessions, clock,
                                                                      tmp_path) -> None:
    settings, desk = _staff_desk(world, sessions, clock, tmp_path, record=False, number="+8613900000017")
    with AsteriskChannel(settings, sessions, clock, options=AsteriskOptions.from_settings(settings),
                         drain_s=0) as channel:
        channel.preflight(world.survey_id)
        call_id = desk.place()
        ended = desk.wait_state(call_id, StaffCallState.ENDED, 60)
    assert (ended.end, ended.coded) == (StaffCallEnd.BUSY, "busy")
