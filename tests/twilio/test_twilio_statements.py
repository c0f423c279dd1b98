"""How much database work one webhook request costs: the statements a gather sends, counted with a
SQLAlchemy event listener on the app's engine (a call centre's throughput rests on it; it was 8)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Call, Dial

from ivr.channels.twilio.urls import WebhookUrls
from survey.config import Settings
from survey.models import CallAttempt, Case, Interview
from survey.vocabulary import AttemptStatus

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True)

SID = "CA" + "7" * 32


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_gather_that_stores_an_answer_sends_three_statements_on_postgresql(
        app: Flask, dial: Dial, settings: Settings, engine: Engine, twiml_schema: etree.XMLSchema,
        urls: WebhookUrls) -> None:
    call = Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)
    call.answer(urls.start(call.attempt_id))
    call.press("1")  # the language menu
    for keys in ("1", "1", "1"):  # consent, then two screeners: each stores an answer
        with _statements(engine) as sent:
            call.press(keys)
        # lock and read the attempt, and read its case's language, interview and any stored reply:
        # two statements on PostgreSQL (the read must follow the lock), one on SQLite (RETURNING);
        # the interview's state, the answer and the reply: one statement on PostgreSQL (CTEs),
        # three on SQLite. The survey and its questionnaire are never read again.
        assert len(sent) == (3 if engine.dialect.name == "postgresql" else 4), "\n".join(sent)
        assert not [statement for statement in sent if "surveys" in statement]


def test_a_call_s_start_sends_six_statements(app: Flask, dial: Dial, settings: Settings, engine: Engine,
                                             twiml_schema: etree.XMLSchema, urls: WebhookUrls) -> None:
    """The start reads the interview the call opened once (under the lock) and inserts a new one
    with the state its first step leaves: no second look-up, no UPDATE after the INSERT (8 on
    SQLite, 7 on PostgreSQL before)."""
    first = Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)
    first.answer(urls.start(first.attempt_id))  # the survey's questionnaire read once for the app
    call = Call(app.test_client(), settings, twiml_schema, dial("+8613800138001").attempt_id, "CA" + "8" * 32)
    call.notify(urls.status(call.attempt_id), {"CallStatus": "initiated"})  # claims the attempt for the call
    with _statements(engine) as sent:
        call.answer(urls.start(call.attempt_id))
    # lock the attempt; read its case, the call's interview and the stored reply; move the attempt
    # on; look for the case's partial interview; insert the new one; insert the reply
    assert len(sent) == 6, "\n".join(sent)
    assert len([statement for statement in sent if statement.startswith("INSERT INTO interviews")]) == 1
    assert not [statement for statement in sent if statement.startswith("UPDATE interviews")]


def test_a_status_callback_sends_two_statements(app: Flask, dial: Dial, settings: Settings, engine: Engine,
                                                twiml_schema: etree.XMLSchema, urls: WebhookUrls,
                                                sessions: sessionmaker[Session]) -> None:
    call = Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)
    call.notify(urls.status(call.attempt_id), {"CallStatus": "initiated"})  # the first one claims the attempt
    for state in ("ringing", "in-progress", "ringing"):  # the late "ringing" moves nothing
        with _statements(engine) as sent:
            assert call.notify(urls.status(call.attempt_id), {"CallStatus": state}).status_code == 204
        assert len(sent) == 2, "\n".join(sent)  # lock the attempt; move it forward
    with sessions() as s:
        attempt = s.get(CallAttempt, call.attempt_id)
        assert attempt is not None and attempt.status == AttemptStatus.IN_PROGRESS and attempt.answered_at


@contextmanager
def _loaded(*classes: type) -> Iterator[list[str]]:
    """The names of the ORM objects of ``classes`` loaded from the database meanwhile."""
    seen: list[str] = []

    def loaded(target: object, _context: object) -> None:
        seen.append(type(target).__name__)

    for cls in classes:
        event.listen(cls, "load", loaded)
    try:
        yield seen
    finally:
        for cls in classes:
            event.remove(cls, "load", loaded)


def test_a_gather_and_a_progress_callback_load_no_attempt_or_case_object(
        app: Flask, dial: Dial, settings: Settings, twiml_schema: etree.XMLSchema, urls: WebhookUrls) -> None:
    """The busiest webhooks read the attempt and the case's language with Core: loading them as ORM
    objects cost more CPU than the statements did."""
    call = Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)
    call.notify(urls.status(call.attempt_id), {"CallStatus": "initiated"})
    with _loaded(CallAttempt, Case) as seen:
        call.notify(urls.status(call.attempt_id), {"CallStatus": "ringing"})
        call.answer(urls.start(call.attempt_id))
        opened = list(seen)
        call.press("1")  # the language menu
        call.press("1")  # consent: an answer stored
    assert seen == opened and "CallAttempt" in opened  # the call's start still goes the ORM's way


def test_a_gather_storing_an_answer_loads_no_interview_object(
        app: Flask, dial: Dial, settings: Settings, twiml_schema: etree.XMLSchema, urls: WebhookUrls,
        sessions: sessionmaker[Session]) -> None:
    """A key whose effects are an answer, a status or a language is stored from Core rows (the case's
    language too); a key that does more (here the operator key: a task for staff) is fed to the
    interview as an ORM object."""
    call = Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)
    call.answer(urls.start(call.attempt_id))
    with _loaded(Interview, Case) as seen:
        call.press("2")  # the language menu: English
        call.press("1")  # consent: an answer stored
    assert seen == []
    with _loaded(Interview) as seen:
        call.press("0")  # the operator
    assert seen == ["Interview"]
    with sessions() as s:
        interview = s.scalars(select(Interview).where(Interview.last_attempt_id == call.attempt_id)).one()
        assert interview.language == "en" and interview.case.language == "en" and interview.consent is True
        assert [(a.question_id, a.code) for a in interview.answers] == [("consent", 1)]
        assert interview.state["language"] == "en" and interview.current_question != "consent"
