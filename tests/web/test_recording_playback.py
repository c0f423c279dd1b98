"""Every recording plays from the web app whatever the channel (scoped and audited like the rest); a
recording not home yet (at Twilio or Asterisk), or a simulated one, says so; a whole call recorded
before any interview opened is reached through its call attempt; administrators see the downloads
still at the provider and send a failed one back to the fetcher (audited)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from office.users import create_user
from survey.models import AuditLog, CallAttempt, Interview, Recording
from survey.vocabulary import RecordingDownload
from web.demo_data import DEMO_PASSWORD

SID = "RE" + "8" * 32


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 8000)
    return out.getvalue()


def _set(web, recording_id: int, **values: object) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        row = s.get(Recording, recording_id)
        for name, value in values.items():
            setattr(row, name, value)


def _downloads(web, action: str) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    with web.sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_a_downloaded_twilio_recording_plays_scoped_and_audited(web, login) -> None:  # type: ignore[no-untyped-def]
    t01, t02 = web.demo.recordings[0], web.demo.recordings[2]
    folder = Path(web.settings.recordings_dir) / "twilio"
    folder.mkdir(exist_ok=True)
    (folder / f"{SID}.wav").write_bytes(_wav())
    for recording_id in (t01, t02):
        _set(web, recording_id, path=f"twilio/{SID}.wav", remote_url="https://api.twilio.com/x",
             download_status=RecordingDownload.STORED)
    page = login("transcriber").text(f"/transcribe/{t01}")
    assert f'src="/transcribe/{t01}/audio"' in page
    response = login("transcriber").get(f"/transcribe/{t01}/audio")
    assert response.status_code == 200 and response.get_data() == _wav()
    (audit,) = _downloads(web, "download")
    assert (audit.entity, audit.entity_id, audit.user_id) == ("recording", str(t01), web.demo.users["transcriber"])
    limited = login("transcriber_t01")
    assert limited.get(f"/transcribe/{t01}/audio").status_code == 200
    assert limited.get(f"/transcribe/{t02}/audio").status_code == 404  # another township: as if missing
    assert limited.get(f"/transcribe/{t02}").status_code == 404


def test_an_asterisk_recording_stored_under_a_relative_directory_plays(web, login, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = Path(web.settings.recordings_dir)
    monkeypatch.chdir(folder.parent)  # MINYI_RECORDINGS_DIR=recordings, as the Asterisk channel writes it
    (folder / "ari-demo-1.wav").write_bytes(_wav())
    recording_id = web.demo.recordings[0]
    _set(web, recording_id, path=f"{folder.name}/ari-demo-1.wav", provider_id="ari-demo-1")
    assert login("supervisor").get(f"/transcribe/{recording_id}/audio").status_code == 200


@pytest.mark.parametrize(("values", "says"), [
    ({"path": "", "download_status": RecordingDownload.PENDING, "download_attempts": 2}, "录音仍在 Twilio"),
    ({"path": "", "download_status": RecordingDownload.FAILED}, "录音未能从 Twilio 传回"),
    ({"path": "simulated://attempt/3/q_suggest.wav"}, "模拟呼叫，没有录音音频"),
    ({"path": "gone.wav"}, "本服务器上没有该录音文件"),
])
def test_a_recording_without_audio_here_says_why(web, login, values: dict[str, object],  # type: ignore[no-untyped-def]
                                                 says: str) -> None:
    recording_id = web.demo.recordings[0]
    _set(web, recording_id, remote_url="https://api.twilio.com/x", **values)
    c = login("transcriber")
    page = c.text(f"/transcribe/{recording_id}")
    assert says in page and "<audio" not in page
    assert c.get(f"/transcribe/{recording_id}/audio").status_code == 404


def test_the_administrator_sees_downloads_still_at_twilio_and_tries_a_failed_one_again(  # type: ignore[no-untyped-def]
        web, login) -> None:
    failed, waiting, t02 = web.demo.recordings[0], web.demo.recordings[1], web.demo.recordings[2]
    _set(web, failed, path="", download_status=RecordingDownload.FAILED, download_attempts=6,
         last_error="Twilio answered 503 Service Unavailable")
    _set(web, waiting, path="", download_status=RecordingDownload.PENDING, download_attempts=1,
         next_attempt_at=web.clock.now())
    _set(web, t02, path="", download_status=RecordingDownload.FAILED, download_attempts=6)
    admin = login("admin")
    page = admin.text("/admin/recordings/")
    assert "Twilio answered 503 Service Unavailable" in page and "失败" in page and "等待下载" in page
    assert all(f"/admin/recordings/{i}/retry" in page for i in (failed, waiting, t02))
    assert admin.post(f"/admin/recordings/{failed}/retry").status_code == 302
    assert f"录音 #{failed} 将在下一次下载时重新下载" in admin.text("/admin/recordings/")
    with web.sessions() as s:
        row = s.get(Recording, failed)
        assert (row.download_status, row.download_attempts, row.next_attempt_at) == (
            RecordingDownload.PENDING, 0, web.clock.now())
    (audit,) = _downloads(web, "recording_download_retried")
    assert audit.entity_id == str(failed) and audit.user_id == web.demo.users["admin"]
    assert audit.before == {"download_status": "failed", "download_attempts": 6}


def test_an_administrator_limited_to_a_township_sees_only_its_downloads(web, login) -> None:  # type: ignore[no-untyped-def]
    t01, t02 = web.demo.recordings[0], web.demo.recordings[2]
    for recording_id in (t01, t02):
        _set(web, recording_id, path="", download_status=RecordingDownload.FAILED, download_attempts=6)
    with web.sessions.begin() as s:
        create_user(s, "admin_t01", DEMO_PASSWORD, "admin", web.clock, township_scope=["T01"])
    limited = login("admin_t01")
    page = limited.text("/admin/recordings/")
    assert f"/admin/recordings/{t01}/retry" in page and f"/admin/recordings/{t02}/retry" not in page
    assert limited.post(f"/admin/recordings/{t02}/retry").status_code == 404
    assert _downloads(web, "recording_download_retried") == []


def _without_interview(web, recording_id: int) -> int:  # type: ignore[no-untyped-def]
    """Make the recording a whole call recorded before any interview opened: tied to the call
    attempt only. Returns the case."""
    with web.sessions.begin() as s:
        row = s.get(Recording, recording_id)
        interview = s.get(Interview, row.interview_id)
        attempt_id = interview.last_attempt_id or s.scalars(
            select(CallAttempt.id).where(CallAttempt.case_id == interview.case_id)).first()
        row.interview_id, row.attempt_id, row.question_id = None, attempt_id, "call"
        return int(interview.case_id)


def test_a_whole_call_without_an_interview_plays_through_its_call_attempt_scoped_and_audited(  # type: ignore[no-untyped-def]
        web, login) -> None:
    t01, t02 = web.demo.recordings[0], web.demo.recordings[2]
    case_t01, _ = _without_interview(web, t01), _without_interview(web, t02)
    limited = login("transcriber_t01")
    assert limited.get(f"/transcribe/{t01}/audio").status_code == 200
    assert "访问开始前即结束的通话录音" in limited.text(f"/transcribe/{t01}")
    listed = limited.text("/transcribe/?show=all")
    assert f'href="/transcribe/{t01}"' in listed and f'href="/transcribe/{t02}"' not in listed
    assert limited.get(f"/transcribe/{t02}/audio").status_code == 404
    assert limited.get(f"/transcribe/{t02}").status_code == 404
    assert [a.entity_id for a in _downloads(web, "download")] == [str(t01)]
    assert f'src="/transcribe/{t01}/audio"' in login("supervisor").text(f"/cases/{case_t01}")


def test_an_asterisk_recording_not_home_yet_says_so_and_the_administrator_sees_it(  # type: ignore[no-untyped-def]
        web, login) -> None:
    recording_id = web.demo.recordings[0]
    _set(web, recording_id, path="", remote_url="ari:minyi-7-q_suggest-0a1b2c3d", download_status=RecordingDownload.FAILED,
         download_attempts=6, last_error="copy from Asterisk failed: 500 Internal Server Error")
    page = login("transcriber").text(f"/transcribe/{recording_id}")
    assert "录音未能从 Asterisk 传回" in page and "<audio" not in page
    downloads = login("admin").text("/admin/recordings/")
    assert "Asterisk" in downloads and "copy from Asterisk failed" in downloads
    assert f"/admin/recordings/{recording_id}/retry" in downloads
