"""``minyi recordings fetch`` for Asterisk's recordings: copies home what is due from the fake
Asterisk and deletes it there, prints one line, and exits 1 listing each failure (a copy that
fails, an Asterisk out of reach)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ari_fake import FakeAsterisk
from ari_fake.objects import Recording as FakeRecording
from cli_support import run, upgraded_database
from sqlalchemy import select

from calls import recordings
from survey.clock import SystemClock
from survey.db import make_engine, session_factory, session_scope
from survey.models import CallAttempt, Case, Contact, Recording
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import AttemptStatus, RecordingDownload

NAME = "minyi-1-call-0a0b0c0d"


@pytest.fixture
def database(fake: FakeAsterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.setenv("MINYI_RECORDINGS_DIR", str(tmp_path / "recordings"))
    for name, value in (("ARI_URL", fake.url), ("ARI_USERNAME", fake.username), ("ARI_PASSWORD", fake.password),
                        ("ARI_APP", fake.app)):
        monkeypatch.setenv(name, value)
    return upgraded_database(tmp_path, monkeypatch)


def _pending_in_asterisk(database: str, fake: FakeAsterisk, seconds: int = 12) -> None:
    """A whole call Asterisk recorded and stored, waiting to be copied home."""
    fake.recordings[NAME] = FakeRecording(NAME, "wav", "snoop-1", 0, 0, "none", state="done", duration=seconds)
    fake.stored.add(NAME)
    clock, engine = SystemClock(), make_engine(database)
    with session_scope(session_factory(engine)) as s:
        survey = create_survey(s, "S1", load_bundled(), clock, period="2026-11", quota=10,
                               strata=[StratumSpec("T01", "城关镇", "Chengguan")])
        contact = Contact(number_enc=b"x", number_hash="h", number_masked="138****0000")
        s.add(contact)
        s.flush()
        case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id,
                    created_at=clock.now(), updated_at=clock.now())
        s.add(case)
        s.flush()
        attempt = CallAttempt(case_id=case.id, survey_id=survey.id, channel="asterisk",
                              status=AttemptStatus.COMPLETED, started_at=clock.now())
        s.add(attempt)
        s.flush()
        recordings.whole_call(s, attempt.id, recordings.ARI + NAME, NAME, seconds, clock.now())
    engine.dispose()


def _row(database: str) -> Recording:
    engine = make_engine(database)
    with session_factory(engine)() as s:
        row = s.scalars(select(Recording).where(Recording.provider_id == NAME)).one()
        s.expunge(row)
    engine.dispose()
    return row


def test_a_recording_in_asterisk_is_copied_home_and_deleted_there(
        database: str, fake: FakeAsterisk, tmp_path: Path) -> None:
    _pending_in_asterisk(database, fake)
    result = run("recordings", "fetch")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Asterisk: 1 stored, 1 deleted"
    row = _row(database)
    assert (row.download_status, row.path, row.interview_id) == (RecordingDownload.STORED,
                                                                 f"asterisk/{NAME}.wav", None)
    assert (tmp_path / "recordings" / row.path).read_bytes().startswith(b"RIFF")
    assert NAME not in fake.stored
    again = run("recordings", "fetch", "--provider", "asterisk")
    assert again.exit_code == 0 and again.output.strip() == "Asterisk: 0 stored, 0 deleted"


def test_a_copy_that_fails_is_listed_and_exits_1(database: str, fake: FakeAsterisk) -> None:
    _pending_in_asterisk(database, fake)
    fake.file_failures = 1
    result = run("recordings", "fetch")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "Asterisk: 0 stored, 0 deleted"
    assert "Asterisk, 1 to try again later" in result.output and f"{NAME}: copy from Asterisk failed" in result.output
    row = _row(database)
    assert (row.download_status, row.download_attempts) == (RecordingDownload.PENDING, 1)
    assert NAME in fake.stored  # never deleted before it is home


def test_an_asterisk_out_of_reach_is_a_failure(database: str, fake: FakeAsterisk,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _pending_in_asterisk(database, fake)
    monkeypatch.setenv("ARI_URL", "http://127.0.0.1:9")  # nothing listens there
    result = run("recordings", "fetch")
    assert result.exit_code == 1 and "could not be reached" in result.output
    assert _row(database).download_status == RecordingDownload.PENDING


def test_both_providers_are_fetched_when_both_are_configured(database: str, fake: FakeAsterisk,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _pending_in_asterisk(database, fake)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0123456789abcdef" * 2)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:9")
    result = run("recordings", "fetch")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Twilio: 0 stored, 0 deleted; Asterisk: 1 stored, 1 deleted"


def test_a_provider_not_configured_is_refused_in_one_line(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("recordings", "fetch", "--provider", "twilio")
    assert result.exit_code == 2 and "TWILIO_ACCOUNT_SID" in result.output
    monkeypatch.delenv("ARI_USERNAME")
    result = run("recordings", "fetch")
    assert result.exit_code == 2 and "no provider is configured" in result.output
    assert run("recordings", "fetch", "--provider", "sip").exit_code == 2
