"""Twilio's recordings come home: downloaded with the account's credentials, checked, stored in
recordings_dir, deleted at Twilio by the configured policy; failures tried again, then left
failed for an administrator (SQLite and PostgreSQL; Twilio is an httpx.MockTransport, no network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fake_twilio import FakeTwilio
from flask import Flask
from lxml import etree
from openapi_core import OpenAPI
from playback_support import playbacks, plays, staff
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Call, Dial
from twilio_media import TwilioMedia, mp3, wav

from calls import recordings
from dialer.protocol import Tidying
from ivr.channels.twilio import TwilioChannel
from ivr.channels.twilio.fetch import FetchReport, RecordingFetcher
from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import AuditLog, Case, Interview, Recording, User
from survey.vocabulary import RecordingDownload, Role

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True)

SID = "RE" + "5" * 32
Fetch = Callable[..., RecordingFetcher]


@pytest.fixture
def home(tmp_path: Path, settings: Settings) -> Settings:
    return replace(settings, recordings_dir=str(tmp_path / "recordings"))


@pytest.fixture
def media(openapi: OpenAPI, home: Settings) -> TwilioMedia:
    return TwilioMedia(openapi, home.twilio_account_sid, home.twilio_auth_token)


@pytest.fixture
def fetcher(home: Settings, sessions: sessionmaker[Session], clock: VirtualClock,
            media: TwilioMedia) -> Iterator[Fetch]:
    made: list[RecordingFetcher] = []

    def make(**changes: str) -> RecordingFetcher:
        made.append(RecordingFetcher(replace(home, **changes), sessions, clock, transport=media.transport))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def pending(dial: Dial, sessions: sessionmaker[Session], clock: VirtualClock) -> Callable[..., int]:
    """A recording Twilio announced (``seconds`` long): its row, pending download."""

    def make(sid: str = SID, seconds: float = 9.0) -> int:
        case_id = dial().case_id
        with session_scope(sessions) as s:
            case = s.get(Case, case_id)
            assert case is not None
            interview = Interview(case_id=case_id, survey_id=case.survey_id, questionnaire_version="1", language="zh",
                                  state={}, started_at=clock.now(), updated_at=clock.now())
            s.add(interview)
            s.flush()
            url = f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{sid}"
            recordings.insert_recordings(s.connection(), [recordings.recording_row(
                interview.id, "q_suggest", url, sid, seconds, clock.now(), attempt_id=None, settled=True)])
        return _row(sessions, sid).id

    return make


def _row(sessions: sessionmaker[Session], sid: str = SID) -> Recording:
    with sessions() as s:
        row = s.query(Recording).filter_by(provider_id=sid).one()
        s.expunge(row)
        return row


def test_a_recording_is_downloaded_with_the_account_credentials_checked_stored_and_deleted(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, home: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    pending()
    media.files[SID] = audio = wav(9.4)
    report = fetcher().run()
    assert (report.stored, report.deleted, report.failed) == (1, 1, [])
    prefix = f"/2010-04-01/Accounts/{home.twilio_account_sid}/Recordings/{SID}"
    assert media.sent == [("GET", prefix + ".wav"), ("DELETE", prefix + ".json")]
    assert SID not in media.files  # gone from Twilio
    row = _row(sessions)
    assert (row.download_status, row.path, row.download_attempts) == (RecordingDownload.STORED, f"twilio/{SID}.wav", 1)
    assert row.downloaded_at == clock.now() and row.provider_deleted_at == clock.now()
    assert (Path(home.recordings_dir) / row.path).read_bytes() == audio
    assert fetcher().run() == FetchReport()  # nothing more to do


@pytest.mark.parametrize("tag", [False, True], ids=["bare", "ID3 tag"])
def test_an_mp3_answered_for_the_media_is_checked_and_kept_as_one(
        tag: bool, pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, home: Settings,
        sessions: sessionmaker[Session]) -> None:
    pending()
    media.files[SID] = audio = mp3(9, tag=tag)
    assert fetcher().run().stored == 1
    row = _row(sessions)
    assert row.path == f"twilio/{SID}.mp3" and (Path(home.recordings_dir) / row.path).read_bytes() == audio


def test_the_configured_api_base_is_used(openapi: OpenAPI, home: Settings, pending: Callable[..., int],
                                         sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    base = "https://twilio-gateway.example.cn/twilio"
    media = TwilioMedia(openapi, home.twilio_account_sid, home.twilio_auth_token, base_url=base)
    pending()
    media.files[SID] = wav(9)
    fetcher = RecordingFetcher(replace(home, twilio_api_base_url=base + "/"), sessions, clock,
                               transport=media.transport)
    assert fetcher.run().stored == 1


def test_a_failed_download_is_tried_again_later_after_a_server_error_and_a_timeout(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    pending()
    media.files[SID] = wav(9)
    media.fail_next(500, httpx.ReadTimeout("slow"))
    assert len(fetcher().run().retrying) == 1
    row = _row(sessions)
    assert row.download_status == RecordingDownload.PENDING and row.download_attempts == 1
    assert row.last_error == "Twilio answered 500 Internal Server Error"
    assert row.next_attempt_at == clock.now() + recordings.RETRY_DELAYS[0]
    assert fetcher().run().retrying == [] and len(media.sent) == 1  # not due yet: nothing sent
    clock.advance(recordings.RETRY_DELAYS[0])
    assert len(fetcher().run().retrying) == 1
    assert _row(sessions).last_error == "no answer from Twilio in time"
    clock.advance(recordings.RETRY_DELAYS[1])
    assert fetcher().run().stored == 1
    assert _row(sessions).download_status == RecordingDownload.STORED


def test_a_download_another_fetcher_has_claimed_is_left_to_it_until_the_claim_runs_out(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    pending()
    media.files[SID] = wav(9)
    with session_scope(sessions) as s:
        assert len(recordings.claim_due(s, clock.now(), 10, sources=recordings.HTTP)) == 1  # another worker took it, then died
    assert fetcher().run() == FetchReport() and media.sent == []
    clock.advance(recordings.CLAIM)
    assert fetcher().run().stored == 1


@pytest.mark.parametrize(("served", "why"), [
    (b"<html>Service Unavailable</html>", "neither a WAV nor an MP3 file"),
    (mp3(60), "an MP3 file of 60.0 s where Twilio reported 9 s"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x02" + bytes(10), "an MP3 file without a layer III frame"),
    (wav(30), "a WAV file of 30.0 s where Twilio reported 9 s"),
    (wav(0), "a WAV file of implausible length (0.0 s)"),
])
def test_a_file_that_is_not_the_recording_is_not_kept(
        served: bytes, why: str, pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch,
        home: Settings, sessions: sessionmaker[Session]) -> None:
    pending()
    media.files[SID] = served
    assert len(fetcher().run().retrying) == 1
    row = _row(sessions)
    assert row.last_error is not None and why in row.last_error and row.path == ""
    assert not (Path(home.recordings_dir) / "twilio").exists() or not any((Path(home.recordings_dir) / "twilio").iterdir())
    assert ("DELETE", f"/2010-04-01/Accounts/{home.twilio_account_sid}/Recordings/{SID}.json") not in media.sent


def test_after_the_last_attempt_the_download_is_failed_kept_at_twilio_until_an_administrator_retries(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    recording_id = pending()
    media.files[SID] = wav(9)
    media.fail_next(*[503] * recordings.MAX_ATTEMPTS)
    for delay in (*recordings.RETRY_DELAYS, None):
        report = fetcher().run()
        if delay is not None:
            assert len(report.retrying) == 1
            clock.advance(delay)
    assert report.failed == [f"{SID}: Twilio answered 503 Service Unavailable"]
    row = _row(sessions)
    assert row.download_status == RecordingDownload.FAILED and row.next_attempt_at is None
    assert all(method == "GET" for method, _ in media.sent) and SID in media.files  # still at Twilio
    clock.advance(timedelta(days=1))
    assert fetcher().run() == FetchReport()  # failed: left alone
    with session_scope(sessions) as s:
        admin = User(username="admin", password_hash="x", role="admin", created_at=clock.now())
        s.add(admin)
        s.flush()
        row = s.get(Recording, recording_id)
        assert row is not None
        recordings.try_again(s, row, clock, user_id=admin.id)
    assert fetcher().run().stored == 1
    with sessions() as s:
        audit = s.query(AuditLog).filter_by(action="recording_download_retried").one()
        assert audit.entity_id == str(recording_id) and audit.before == {"download_status": "failed",
                                                                          "download_attempts": 6}


def test_the_copy_at_twilio_is_kept_or_deleted_as_the_policy_says(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    pending()
    media.files[SID] = wav(9)
    assert fetcher(recording_deletion="never").run().stored == 1
    clock.advance(timedelta(days=400))
    assert fetcher(recording_deletion="never").run().deleted == 0 and SID in media.files
    pending("RE" + "6" * 32)
    media.files["RE" + "6" * 32] = wav(9)
    later = fetcher(recording_deletion="after_days:3")
    report = later.run()
    assert (report.stored, report.deleted) == (1, 1)  # the first one, downloaded 400 days ago
    clock.advance(timedelta(days=2))
    assert later.run().deleted == 0 and "RE" + "6" * 32 in media.files
    clock.advance(timedelta(days=1))
    assert later.run().deleted == 1 and media.files == {}


def test_a_failed_deletion_is_tried_again_and_one_already_gone_counts_as_deleted(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session]) -> None:
    pending()
    media.files[SID] = wav(9)
    media.fail_next(None, 500)  # the download goes through, the deletion meets a server error
    report = fetcher().run()
    assert (report.stored, report.deleted) == (1, 0) and len(report.not_deleted) == 1
    assert _row(sessions).last_error == "deletion at Twilio failed: Twilio answered 500 Internal Server Error"
    del media.files[SID]  # meanwhile deleted in Twilio's console: the next deletion answers 404
    assert fetcher().run().deleted == 1
    row = _row(sessions)
    assert row.provider_deleted_at is not None and row.last_error is None


def test_the_channel_brings_recordings_home_at_the_dialers_housekeeping_in_the_background(
        pending: Callable[..., int], media: TwilioMedia, fake: FakeTwilio, home: Settings,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    pending()
    media.files[SID] = wav(9)
    channel = TwilioChannel(home, sessions, clock, http_client=fake, media=media.transport)
    assert isinstance(channel, Tidying)
    channel.housekeeping()
    thread = channel.recordings_home.thread
    assert thread is not None
    thread.join(timeout=30)
    assert _row(sessions).download_status == RecordingDownload.STORED and media.files == {}


def test_a_recording_sid_stored_already_is_not_stored_again(pending: Callable[..., int],
                                                            sessions: sessionmaker[Session],
                                                            clock: VirtualClock) -> None:
    first = pending()
    with session_scope(sessions) as s:
        other = s.get(Recording, first)
        assert other is not None
        again = recordings.recording_row(other.interview_id, "call", "https://api.twilio.com/y", SID, 30,
                                         clock.now(), attempt_id=None)
        fresh = recordings.recording_row(other.interview_id, "call", "https://api.twilio.com/z", "RE" + "a" * 32,
                                         30, clock.now(), attempt_id=None)
        assert recordings.insert_recordings(s.connection(), [again, fresh]) == 1  # only the new one
    with sessions() as s:
        rows = s.query(Recording).order_by(Recording.id).all()
        assert [(r.provider_id, r.question_id) for r in rows] == [(SID, "q_suggest"), ("RE" + "a" * 32, "call")]


def test_a_voice_answer_recorded_at_twilio_comes_home_after_the_call(
        app: Flask, dial: Dial, home: Settings, twiml_schema: etree.XMLSchema, urls: WebhookUrls,
        media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    call = Call(app.test_client(), home, twiml_schema, dial().attempt_id, "CA" + "c" * 32)
    call.answer(urls.start(call.attempt_id))
    for keys in ("1",) * 12:  # 普通话, consent, then the closed questions up to the open one
        call.press(keys)
    assert call.verbs() == ["Say", "Record", "Redirect"]
    url = f"https://api.twilio.com/2010-04-01/Accounts/{home.twilio_account_sid}/Recordings/{SID}"
    call.speak(url, 9, SID)
    media.files[SID] = wav(9.2)
    assert fetcher().run() == FetchReport()  # Twilio may still be writing it: not yet
    call.notify(urls.recording(call.attempt_id), {"RecordingSid": SID, "RecordingStatus": "completed",
                                                  "RecordingDuration": "9", "RecordingUrl": url})
    assert fetcher().run().stored == 1
    row = _row(sessions)
    assert (row.question_id, row.path, row.provider_deleted_at) == ("q_suggest", f"twilio/{SID}.wav", clock.now())


def test_a_voice_answer_downloaded_from_twilio_plays_from_the_web_app_within_its_township(
        app: Flask, dial: Dial, home: Settings, twiml_schema: etree.XMLSchema, urls: WebhookUrls,
        media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    call = Call(app.test_client(), home, twiml_schema, dial().attempt_id, "CA" + "d" * 32)
    call.answer(urls.start(call.attempt_id))
    for keys in ("1",) * 12:
        call.press(keys)
    call.speak(f"https://api.twilio.com/2010-04-01/Accounts/{home.twilio_account_sid}/Recordings/{SID}", 9, SID)
    listener, user_id = staff(home, sessions, clock, townships=["T01"])
    recording_id = _row(sessions).id
    assert _row(sessions).attempt_id == call.attempt_id
    assert plays(listener, recording_id) is None  # still at Twilio: said, not played
    media.files[SID] = wav(9)
    clock.advance(recordings.SETTLE)
    assert fetcher().run().stored == 1
    assert plays(listener, recording_id) == wav(9)
    assert playbacks(sessions, recording_id) == [user_id]
    elsewhere, _ = staff(home, sessions, clock, townships=["T02"])
    assert elsewhere.get(f"/transcribe/{recording_id}/audio").status_code == 404
    assert playbacks(sessions, recording_id) == [user_id]


def test_a_whole_call_that_never_opened_an_interview_is_kept_with_its_call_and_plays(
        app: Flask, dial: Dial, home: Settings, twiml_schema: etree.XMLSchema, urls: WebhookUrls,
        media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """A machine answered (Twilio's AMD said so at the answer): the call hung up without an
    interview, and the recording of the whole call is still stored, tied to the call attempt."""
    dialled = dial()
    call = Call(app.test_client(), home, twiml_schema, dialled.attempt_id, "CA" + "e" * 32)
    hangup = call.fetch(urls.start(call.attempt_id), {"CallStatus": "in-progress", "Direction": "outbound-api",
                                                      "AnsweredBy": "machine_start"})
    assert [verb.tag for verb in hangup] == ["Hangup"]
    call.notify(urls.recording(call.attempt_id, whole_call=True), {
        "RecordingSid": SID, "RecordingStatus": "completed", "RecordingDuration": "12",
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{home.twilio_account_sid}/Recordings/{SID}"})
    row = _row(sessions)
    assert (row.interview_id, row.attempt_id, row.question_id, row.download_status) == (
        None, dialled.attempt_id, "call", RecordingDownload.PENDING)
    media.files[SID] = wav(12)
    assert fetcher().run().stored == 1 and media.files == {}  # home, and deleted at Twilio
    listener, user_id = staff(home, sessions, clock, townships=["T01"])
    assert plays(listener, row.id) == wav(12)
    assert "访问开始前即结束的通话录音" in listener.text(f"/transcribe/{row.id}")
    assert f'href="/transcribe/{row.id}"' in listener.text("/transcribe/?show=all")
    supervisor, supervisor_id = staff(home, sessions, clock, role=Role.SUPERVISOR)
    assert f'src="/transcribe/{row.id}/audio"' in supervisor.text(f"/cases/{dialled.case_id}")
    elsewhere, _ = staff(home, sessions, clock, townships=["T02"])
    assert elsewhere.get(f"/transcribe/{row.id}/audio").status_code == 404
    assert f'href="/transcribe/{row.id}"' not in elsewhere.text("/transcribe/?show=all")
    assert playbacks(sessions, row.id) == [user_id]


def test_the_twilio_fetcher_leaves_asterisks_recordings_to_asterisk(
        pending: Callable[..., int], media: TwilioMedia, fetcher: Fetch, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    first = pending()
    with session_scope(sessions) as s:
        twilio_row = s.get(Recording, first)
        assert twilio_row is not None
        recordings.insert_recordings(s.connection(), [recordings.recording_row(
            twilio_row.interview_id, "q_suggest", "ari:minyi-3-q_suggest-00ff00ff", "minyi-3-q_suggest-00ff00ff", 9,
            clock.now(), attempt_id=None, settled=True)])
    media.files[SID] = wav(9)
    report = fetcher().run()
    assert (report.stored, report.retrying, report.failed) == (1, [], [])  # Twilio's only
    asterisk_row = _row(sessions, "minyi-3-q_suggest-00ff00ff")
    assert (asterisk_row.download_status, asterisk_row.download_attempts) == (RecordingDownload.PENDING, 0)
