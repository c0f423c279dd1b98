"""Whole calls recorded in Asterisk when the centre turns it on (``record_calls``): a snoop
channel hearing both sides is recorded from the answer to the end, kept with the call attempt
(and its interview, if one opened), copied home and played from the web app; nothing is recorded
with the setting off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ari_fake import FakeAsterisk, Resident, answers
from asterisk_world import COMPLETE, SQLITE_ONLY, World, wait_until_idle
from playback_support import playbacks, plays, staff
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.recordings import WHOLE_CALL
from ivr.channels.asterisk import AsteriskChannel
from survey.clock import VirtualClock
from survey.config import Settings
from survey.models import Recording
from survey.vocabulary import AttemptStatus, CallStatus, InterviewStatus, RecordingDownload

NUMBER = "+8613800138000"


def _played(fake: FakeAsterisk) -> str:
    return ",".join(query["media"] for operation, query in fake.requests if operation == "channels.play")


def _whole_calls(sessions: sessionmaker[Session], attempt_id: int) -> list[Recording]:
    with sessions() as s:
        rows = list(s.scalars(select(Recording).where(Recording.attempt_id == attempt_id,
                                                      Recording.question_id == WHOLE_CALL)))
        s.expunge_all()
        return rows


@SQLITE_ONLY
def test_an_interview_is_recorded_whole_stored_with_its_attempt_and_interview_and_played(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel], settings: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    fake.residents[NUMBER] = Resident(list(answers(*COMPLETE)))
    channel = open_channel(record_calls=True)
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    outcome = world.outcome(request.attempt_id)
    assert outcome.attempt.status == AttemptStatus.COMPLETED and outcome.interview is not None
    [recording] = _whole_calls(sessions, request.attempt_id)
    assert recording.interview_id == outcome.interview.id
    assert (recording.download_status, recording.path) == (RecordingDownload.STORED,
                                                            f"asterisk/{recording.provider_id}.wav")
    assert recording.provider_id not in fake.stored  # deleted at Asterisk once home (after_download)
    # the snoop heard the whole interview: fifteen questions are far longer than any voice answer
    assert recording.duration_s >= 15 * fake.prompt_s
    listener, user_id = staff(settings, sessions, clock, townships=["T01"])
    audio = plays(listener, recording.id)
    assert audio == (Path(settings.recordings_dir) / recording.path).read_bytes()
    assert audio is not None and audio.startswith(b"RIFF")
    assert playbacks(sessions, recording.id) == [user_id]
    assert not [c for c in fake.channels.values() if c.spying_on]  # the snoop channel went with the call
    assert "msg/call_recorded,sound:minyi/zh/consent/text" in _played(fake)  # told before agreeing


@SQLITE_ONLY
def test_nothing_is_recorded_whole_with_the_setting_off(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel],
        sessions: sessionmaker[Session]) -> None:
    fake.residents[NUMBER] = Resident(list(answers(*COMPLETE)))
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    assert world.outcome(request.attempt_id).interview is not None
    assert _whole_calls(sessions, request.attempt_id) == []
    assert not [name for name in fake.recordings if "-call-" in name]
    assert not [operation for operation, _query in fake.requests if operation == "channels.snoopChannelWithId"]
    assert "consent/text" in _played(fake) and "call_recorded" not in _played(fake)


@SQLITE_ONLY
def test_a_call_that_ends_before_any_interview_still_gives_a_stored_playable_recording(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel], settings: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """A machine answers: the app hangs up after AMD, no interview opens; the call is kept."""
    fake.residents[NUMBER] = Resident(amd="MACHINE", amd_cause="LONGGREETING-2000-2000")
    channel = open_channel(record_calls=True, amd_context="minyi-amd")
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    outcome = world.outcome(request.attempt_id)
    assert outcome.attempt.outcome == CallStatus.MACHINE and outcome.interview is None
    [recording] = _whole_calls(sessions, request.attempt_id)
    assert recording.interview_id is None and recording.download_status == RecordingDownload.STORED
    assert recording.duration_s >= 1  # the fake's AMD listens two seconds, most of them recorded
    listener, user_id = staff(settings, sessions, clock, townships=["T01"])
    audio = plays(listener, recording.id)
    assert audio is not None and audio.startswith(b"RIFF") and len(audio) > 8000 * 2  # over a second
    assert playbacks(sessions, recording.id) == [user_id]
    elsewhere, _ = staff(settings, sessions, clock, townships=["T02"])
    assert elsewhere.get(f"/transcribe/{recording.id}/audio").status_code == 404


@SQLITE_ONLY
def test_a_snoop_asterisk_refuses_leaves_the_interview_going_unrecorded(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel],
        sessions: sessionmaker[Session]) -> None:
    fake.residents[NUMBER] = Resident(list(answers(*COMPLETE)))
    fake.snoop_failures = 1
    channel = open_channel(record_calls=True)
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    outcome = world.outcome(request.attempt_id)
    assert outcome.interview is not None and outcome.interview.status == InterviewStatus.COMPLETE
    assert _whole_calls(sessions, request.attempt_id) == []
