"""The schema on both back ends: migrations reach head, match the models, and store a survey."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from calls.interviews import InterviewSession, open_interview
from ivr.engine import Answered, Digits, HangUp
from survey.clock import VirtualClock
from survey.db import current_revision, downgrade, head_revision, upgrade
from survey.models import Answer, Base, CallAttempt, Case, Contact, Interview, Recording
from survey.phones import PhoneVault, mask
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import InterviewStatus


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) is not None
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_the_session_version_migration_goes_down_and_up_again(engine: Engine) -> None:
    downgrade(engine, "0003")
    with engine.connect() as conn:
        assert "session_version" not in {c["name"] for c in inspect(conn).get_columns("users")}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert "session_version" in {c["name"] for c in inspect(conn).get_columns("users")}


def test_the_dialer_workers_migration_goes_down_and_up_again(engine: Engine) -> None:
    downgrade(engine, "0004")
    with engine.connect() as conn:
        assert "dialer_workers" not in inspect(conn).get_table_names()
    upgrade(engine)
    with engine.connect() as conn:
        assert "dialer_workers" in inspect(conn).get_table_names()


def test_recordings_stored_with_a_url_become_pending_downloads(engine: Engine, clock: VirtualClock) -> None:
    downgrade(engine, "0005")
    with Session(engine) as session:
        case = _case(session, clock)
        interview = open_interview(session, case, load_bundled(), clock)
        session.commit()
        for path, sid in (("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", "RE1"),
                          ("recordings/ari-1.wav", "ari-1")):
            session.execute(text("INSERT INTO recordings (interview_id, question_id, path, provider_id, duration_s, "
                                 "created_at) VALUES (:i, 'q_suggest', :p, :s, 9, :t)"),
                            {"i": interview.id, "p": path, "s": sid, "t": clock.now()})
        session.commit()
    upgrade(engine)
    with Session(engine) as session:
        rows = {r.provider_id: r for r in session.scalars(select(Recording))}
        twilio, asterisk = rows["RE1"], rows["ari-1"]
        assert (twilio.path, twilio.download_status, twilio.download_attempts) == ("", "pending", 0)
        assert twilio.remote_url.endswith("/Recordings/RE1") and twilio.next_attempt_at == clock.now()
        assert (asterisk.path, asterisk.download_status, asterisk.remote_url) == ("recordings/ari-1.wav", None, None)
    downgrade(engine, "0005")
    with engine.connect() as conn:
        assert set(conn.execute(text("SELECT path FROM recordings")).scalars()) == {
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", "recordings/ari-1.wav"}
    upgrade(engine)


def test_recordings_get_their_call_attempt_and_a_call_without_an_interview_goes_on_the_way_down(
        engine: Engine, clock: VirtualClock) -> None:
    downgrade(engine, "0008")
    with Session(engine) as session:
        case = _case(session, clock)
        attempt = CallAttempt(case_id=case.id, survey_id=case.survey_id, channel="twilio", started_at=clock.now())
        session.add(attempt)
        session.flush()
        interview = open_interview(session, case, load_bundled(), clock, attempt_id=attempt.id)
        session.commit()
        session.execute(text("INSERT INTO recordings (interview_id, question_id, path, provider_id, duration_s, "
                             "created_at) VALUES (:i, 'q_suggest', 'twilio/RE1.wav', 'RE1', 9, :t)"),
                        {"i": interview.id, "t": clock.now()})
        session.commit()
        attempt_id, interview_id = attempt.id, interview.id
    upgrade(engine)
    with Session(engine) as session:
        answer = session.scalars(select(Recording)).one()
        assert (answer.attempt_id, answer.interview_id) == (attempt_id, interview_id)
        session.add(Recording(attempt_id=attempt_id, question_id="call", path="twilio/RE2.wav", provider_id="RE2",
                              created_at=clock.now()))
        session.commit()
    downgrade(engine, "0008")  # interview_id is required again: the call without one cannot stay
    with engine.connect() as conn:
        assert list(conn.execute(text("SELECT provider_id FROM recordings")).scalars()) == ["RE1"]
    upgrade(engine)



def _partial(engine: Engine) -> dict[str, str | None]:
    """The predicate of each index of ``cases`` (None: the whole table)."""
    with engine.connect() as conn:
        indexes = inspect(conn).get_indexes("cases")
    return {ix["name"]: next((str(v) for k, v in ix.get("dialect_options", {}).items() if k.endswith("_where")), None)
            for ix in indexes if ix["name"] is not None}


def test_leased_cases_leave_the_due_index_for_their_own_and_come_back_on_the_way_down(engine: Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    at_head = _partial(engine)
    assert "= 'leased'" in str(at_head["ix_cases_leased"]) and "<>" not in str(at_head["ix_cases_leased"])
    # SQLite would not use it for a status it cannot match; the township's index stays whole
    assert "<> 'leased'" in str(at_head["ix_cases_due"]) if postgres else at_head["ix_cases_due"] is None
    assert at_head["ix_cases_queue"] is None
    downgrade(engine, "0011")
    before = _partial(engine)
    assert "ix_cases_leased" not in before and before["ix_cases_due"] is None
    upgrade(engine)
    assert _partial(engine) == at_head


def _case(session: Session, clock: VirtualClock) -> Case:
    q = load_bundled()
    survey = create_survey(session, "S1", q, clock, period="2026-11", quota=10,
                           strata=[StratumSpec("T01", "城关镇", "Chengguan")])
    vault = PhoneVault("k")
    number = "+8613800138000"
    contact = Contact(number_enc=vault.encrypt(number), number_hash=vault.hash(number), number_masked=mask(number))
    session.add(contact)
    session.flush()
    case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id,
                created_at=clock.now(), updated_at=clock.now())
    session.add(case)
    session.flush()
    return case


def test_a_dropped_call_resumes_at_its_question(session: Session, clock: VirtualClock) -> None:
    case = _case(session, clock)
    q = load_bundled()
    interview = open_interview(session, case, q, clock)
    run = InterviewSession(session, interview, q, clock)
    for event in (Answered(), Digits("1"), Digits("1"), Digits("1"), Digits("1"), Digits("2")):
        run.handle(event)
    run.handle(HangUp())
    session.commit()
    assert interview.status == InterviewStatus.PARTIAL
    assert interview.current_question == "q_trend"

    again = open_interview(session, case, q, clock)
    assert again.id == interview.id
    resumed = InterviewSession(session, again, q, clock)
    step = resumed.handle(Answered())
    assert [p.key for p in step.prompts] == ["msg/resume", "msg/resume_menu"]
    step = resumed.handle(Digits("1"))
    assert step.question_id == "q_trend"
    session.commit()
    stored = session.scalars(select(Answer.question_id).where(Answer.interview_id == interview.id)).all()
    assert set(stored) == {"consent", "s_age", "s_resident", "q_safety"}
    assert session.get(Interview, interview.id) is not None


def test_answers_are_written_at_the_flush_and_go_with_a_rollback(session: Session, clock: VirtualClock) -> None:
    case = _case(session, clock)
    q = load_bundled()
    interview = open_interview(session, case, q, clock)
    session.commit()
    run = InterviewSession(session, interview, q, clock)

    def stored() -> dict[str, int | None]:
        rows = session.execute(select(Answer.question_id, Answer.code).where(Answer.interview_id == interview.id))
        return {question: code for question, code in rows}

    for event in (Answered(), Digits("1"), Digits("1"), Digits("1")):  # language, consent, age
        run.handle(event)
    assert stored() == {"consent": 1, "s_age": 1}  # the query's flush wrote them, one row each
    session.commit()
    run.handle(Digits("1"))
    session.rollback()
    interview.updated_at = clock.now()  # a later flush does not bring the rolled-back answer back
    assert stored() == {"consent": 1, "s_age": 1}


def test_postgres_sessions_run_without_jit_and_keep_the_urls_options(engine: Engine) -> None:
    """JIT compiled some of the dialer's picks for up to 1.9 s; the tests' URL sets a search path."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        assert str(conn.execute(text("SHOW search_path")).scalar()).startswith("t_")  # the test's own schema
