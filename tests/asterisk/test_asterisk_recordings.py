"""Asterisk's voice answers come home: copied at the call's end, checked, stored, deleted at
Asterisk by the policy; a copy that fails is tried again with Twilio's back-off, then failed and
shown to the administrator, who sends it back (audited). Staff play each one from the web app,
scoped by township, each play audited."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from ari_fake import FakeAsterisk, Press, Resident, Speak, answers
from ari_fake.objects import Recording as FakeRecording
from asterisk_world import COMPLETE, COMPLETE_BY_PROMPT, SQLITE_ONLY, World, wait_until_idle
from playback_support import playbacks, plays, staff
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls import recordings
from ivr.channels.asterisk import AsteriskChannel, Timing
from ivr.channels.asterisk.ari import connect
from ivr.channels.asterisk.channel import ari_config
from ivr.channels.asterisk.recordings import RecordingCopier
from ivr.channels.recordings_home import FetchReport
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import AuditLog, Recording
from survey.vocabulary import CallStatus, InterviewStatus, RecordingDownload, Role

NUMBER = "+8613800138000"


def _comment_call(fake: FakeAsterisk, world: World, channel: AsteriskChannel, seconds: float = 4) -> Recording:
    """A whole interview leaving a spoken comment of ``seconds``; its recording afterwards."""
    keys = list(COMPLETE)
    keys[11] = "1"  # q_suggest_yn: yes, a comment
    script = list(answers(*keys))
    script.insert(12, Speak(seconds, "#"))
    fake.residents[NUMBER] = Resident(script)
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    [recording] = world.outcome(request.attempt_id).recordings
    assert recording.attempt_id == request.attempt_id
    return recording


def _row(sessions: sessionmaker[Session], recording_id: int) -> Recording:
    with sessions() as s:
        row = s.get(Recording, recording_id)
        assert row is not None
        s.expunge(row)
        return row


def _pass(settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock,
          policy: str = "after_download") -> FetchReport:
    """One pass of the copier, as the app runs it every recordings_pass_s."""
    copier = RecordingCopier(sessions, clock, Path(settings.recordings_dir), policy,
                             recordings.ari_server(settings.ari_url))

    async def run() -> FetchReport:
        async with connect(ari_config(settings), events=False) as ari:
            return await copier.run(ari)

    return anyio.run(run)


@SQLITE_ONLY
def test_a_voice_answer_comes_home_and_plays_from_the_web_app_within_its_township(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel], settings: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    recording = _comment_call(fake, world, open_channel(), seconds=4)
    assert (recording.download_status, recording.path) == (RecordingDownload.STORED,
                                                            f"asterisk/{recording.provider_id}.wav")
    assert recording.provider_id not in fake.stored and recording.provider_deleted_at is not None
    listener, user_id = staff(settings, sessions, clock, townships=["T01"])
    audio = plays(listener, recording.id)
    assert audio == (Path(settings.recordings_dir) / recording.path).read_bytes()
    assert audio is not None and audio.startswith(b"RIFF") and len(audio) > 4 * 8000 * 2  # four seconds
    supervisor, supervisor_id = staff(settings, sessions, clock, role=Role.SUPERVISOR)
    assert plays(supervisor, recording.id) == audio
    assert playbacks(sessions, recording.id) == [user_id, supervisor_id]
    elsewhere, _ = staff(settings, sessions, clock, townships=["T02"])
    assert elsewhere.get(f"/transcribe/{recording.id}").status_code == 404
    assert elsewhere.get(f"/transcribe/{recording.id}/audio").status_code == 404
    assert playbacks(sessions, recording.id) == [user_id, supervisor_id]


@SQLITE_ONLY
def test_a_failed_copy_is_tried_again_with_back_off_then_failed_until_an_administrator_sends_it_back(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel], settings: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    fake.file_failures = recordings.MAX_ATTEMPTS
    recording = _comment_call(fake, world, open_channel())
    row = _row(sessions, recording.id)
    assert (row.download_status, row.download_attempts, row.remote_url) == (
        RecordingDownload.PENDING, 1, f"ari://127.0.0.1:{fake.port}/{recording.provider_id}")
    assert row.next_attempt_at == clock.now() + recordings.RETRY_DELAYS[0]
    assert row.last_error is not None and "500" in row.last_error
    assert recording.provider_id in fake.stored  # never deleted before it is home
    listener, _ = staff(settings, sessions, clock)
    assert plays(listener, recording.id) is None
    assert "录音仍在 Asterisk" in listener.text(f"/transcribe/{recording.id}")
    assert _pass(settings, sessions, clock) == FetchReport()  # not due yet
    for delay in recordings.RETRY_DELAYS:
        clock.advance(delay)
        report = _pass(settings, sessions, clock)
        assert report.stored == 0 and len(report.retrying) + len(report.failed) == 1
    row = _row(sessions, recording.id)
    assert (row.download_status, row.download_attempts) == (RecordingDownload.FAILED, recordings.MAX_ATTEMPTS)
    assert recording.provider_id in fake.stored
    assert "录音未能从 Asterisk 传回" in listener.text(f"/transcribe/{recording.id}")
    admin, admin_id = staff(settings, sessions, clock, role=Role.ADMIN)
    page = admin.text("/admin/recordings/")
    assert f"/admin/recordings/{recording.id}/retry" in page and "Asterisk" in page and "500" in page
    assert admin.post(f"/admin/recordings/{recording.id}/retry").status_code == 302
    report = _pass(settings, sessions, clock)
    assert (report.stored, report.deleted) == (1, 1)
    assert recording.provider_id not in fake.stored
    assert plays(listener, recording.id) is not None
    assert f"/admin/recordings/{recording.id}/retry" not in admin.text("/admin/recordings/")
    with sessions() as s:
        retried = s.query(AuditLog).filter(AuditLog.action == "recording_download_retried").one()
        assert (retried.entity_id, retried.user_id) == (str(recording.id), admin_id)


@SQLITE_ONLY
def test_the_copy_in_asterisk_is_kept_or_deleted_as_the_policy_says(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel], settings: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    recording = _comment_call(fake, world, open_channel(recording_deletion="after_days:2"))
    assert _row(sessions, recording.id).download_status == RecordingDownload.STORED
    assert recording.provider_id in fake.stored  # home, kept in Asterisk for two days
    assert _pass(settings, sessions, clock, "never").deleted == 0
    clock.advance(recordings.deletion_delay("after_days:2") or 0)
    assert _pass(settings, sessions, clock, "never").deleted == 0 and recording.provider_id in fake.stored
    assert _pass(settings, sessions, clock, "after_days:2").deleted == 1
    assert recording.provider_id not in fake.stored
    assert _row(sessions, recording.id).provider_deleted_at == clock.now()


@SQLITE_ONLY
def test_the_app_itself_tries_a_failed_copy_again_at_its_next_pass(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel],
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    fake.file_failures = 1
    timing = Timing(scale=0.03, backoff_initial_s=0.05, backoff_max_s=0.2, recordings_pass_s=0.1)
    recording = _comment_call(fake, world, open_channel(timing=timing))
    assert _row(sessions, recording.id).download_status == RecordingDownload.PENDING
    clock.advance(recordings.RETRY_DELAYS[0])
    deadline = time.monotonic() + 10
    while _row(sessions, recording.id).provider_deleted_at is None:  # stored, then deleted at Asterisk
        assert time.monotonic() < deadline, "the app never brought the recording home"
        time.sleep(0.05)
    assert _row(sessions, recording.id).download_status == RecordingDownload.STORED
    assert recording.provider_id not in fake.stored


@SQLITE_ONLY
def test_a_recording_of_a_call_without_an_interview_comes_home_with_its_call_attempt(
        fake: FakeAsterisk, world: World, settings: Settings, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    """A whole call recorded in Asterisk that ended before any interview opened: kept with its call
    attempt, copied home by the same passes, and played within the township."""
    name = "minyi-call-7-0a0b0c0d"
    fake.recordings[name] = FakeRecording(name, "wav", "channel-7", 0, 0, "none", state="done", duration=20)
    fake.stored.add(name)
    attempt_id = world.dial(NUMBER).attempt_id
    with session_scope(sessions) as s:
        recordings.insert_recordings(s.connection(), [recordings.recording_row(
            None, "call", recordings.ARI + name, name, 20, clock.now(), attempt_id=attempt_id, settled=True)])
        recording_id = s.scalars(select(Recording.id).where(Recording.provider_id == name)).one()
    assert _pass(settings, sessions, clock).stored == 1 and name not in fake.stored
    listener, user_id = staff(settings, sessions, clock, townships=["T01"])
    audio = plays(listener, recording_id)
    assert audio is not None and len(audio) > 20 * 8000 * 2
    assert playbacks(sessions, recording_id) == [user_id]
    elsewhere, _ = staff(settings, sessions, clock, townships=["T02"])
    assert elsewhere.get(f"/transcribe/{recording_id}/audio").status_code == 404


@SQLITE_ONLY
def test_a_recording_is_fetched_only_from_the_asterisk_that_made_it(
        fake: FakeAsterisk, world: World, settings: Settings, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    """Three recordings pending, each held by this fake: one named as this server's, one as
    another server's (same name space, so asking this one would even succeed), one naming no
    server (from before servers were named). This server's copier takes its own and the unnamed
    one, and leaves the other's untouched for its own server's copier."""
    here, there = recordings.ari_server(settings.ari_url), "10.0.0.2:8088"
    names = {"mine": "minyi-1-q_suggest-00000001", "theirs": "minyi-2-q_suggest-00000002",
             "unnamed": "minyi-3-q_suggest-00000003"}
    refs = {"mine": recordings.ari_ref(here, names["mine"]), "theirs": recordings.ari_ref(there, names["theirs"]),
            "unnamed": recordings.ARI + names["unnamed"]}
    ids = {}
    for key, name in names.items():
        fake.recordings[name] = FakeRecording(name, "wav", "channel-1", 0, 0, "none", state="done", duration=3)
        fake.stored.add(name)
        attempt_id = world.dial(f"+861380013800{len(ids)}").attempt_id
        with session_scope(sessions) as s:
            recordings.insert_recordings(s.connection(), [recordings.recording_row(
                None, "q_suggest", refs[key], name, 3, clock.now(), attempt_id=attempt_id, settled=True)])
            ids[key] = s.scalars(select(Recording.id).where(Recording.provider_id == name)).one()
    report = _pass(settings, sessions, clock)
    assert (report.stored, report.deleted, report.retrying, report.failed) == (2, 2, [], [])
    assert fake.stored == {names["theirs"]}
    theirs = _row(sessions, ids["theirs"])
    assert (theirs.download_status, theirs.download_attempts, theirs.remote_url) == (
        RecordingDownload.PENDING, 0, f"ari://10.0.0.2:8088/{names['theirs']}")
    assert _pass(settings, sessions, clock) == FetchReport()  # nothing of this server's is left


@SQLITE_ONLY
def test_a_recording_asterisk_refuses_leaves_the_answer_out_and_the_interview_goes_on(
        fake: FakeAsterisk, world: World, open_channel: Callable[..., AsteriskChannel],
        caplog: pytest.LogCaptureFixture) -> None:
    """Seen on a real Asterisk without its recording directory: ``POST /channels/{id}/record``
    answers 500. The resident was hung up on (app_error); now the spoken answer is left out."""
    fake.residents[NUMBER] = Resident(by_prompt={**COMPLETE_BY_PROMPT, "q_suggest_yn": Press("1"),
                                                 "q_suggest": Speak(4, "#")})
    fake.record_failures = 1
    request, channel = world.dial(NUMBER), open_channel()
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED and out.attempt.hangup_cause == "16", out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_suggest_yn"] == 1 and out.answers["d_years"] == 15.0 and out.recordings == []
    assert "Asterisk refused to record the open answer q_suggest" in caplog.text
