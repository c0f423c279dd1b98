"""``minyi recordings fetch``: what it did, and exit 1 when anything failed (no network: the API
base is a closed local port)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import run, upgraded_database

from calls import recordings
from survey.clock import SystemClock
from survey.db import make_engine, session_factory, session_scope
from survey.models import Case, Contact, Interview
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey

ACCOUNT = "AC" + "0123456789abcdef" * 2
SID = "RE" + "7" * 32


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("ARI_USERNAME", raising=False)
    monkeypatch.setenv("MINYI_RECORDINGS_DIR", str(tmp_path / "recordings"))
    return upgraded_database(tmp_path, monkeypatch)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:9")  # nothing listens there


def _pending(database: str) -> None:
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
        interview = Interview(case_id=case.id, survey_id=survey.id, questionnaire_version="1", language="zh",
                              state={}, started_at=clock.now(), updated_at=clock.now())
        s.add(interview)
        s.flush()
        recordings.insert_recordings(s.connection(), [recordings.recording_row(
            interview.id, "q_suggest", f"https://api.twilio.com/x/{SID}", SID, 9, clock.now(), attempt_id=None, settled=True)])
    engine.dispose()


def test_without_an_account_it_says_what_is_missing(database: str) -> None:
    result = run("recordings", "fetch")
    assert result.exit_code == 2 and "TWILIO_ACCOUNT_SID" in result.output


def test_with_nothing_due_it_says_so(database: str, account: None) -> None:
    result = run("recordings", "fetch")
    assert result.exit_code == 0 and result.output.strip() == "Twilio: 0 stored, 0 deleted"


def test_a_download_that_fails_is_listed_and_exits_1(database: str, account: None) -> None:
    _pending(database)
    result = run("recordings", "fetch")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "Twilio: 0 stored, 0 deleted"
    assert "Twilio, 1 to try again later" in result.output and f"{SID}: Twilio could not be reached" in result.output
