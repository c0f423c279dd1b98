"""How much database work one webhook request costs: the statements a gather sends, counted with a
SQLAlchemy event listener on the app's engine (a call centre's throughput rests on it; it was 8)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import Engine, event
from twilio_caller import Call, Dial

from ivr.channels.twilio.urls import WebhookUrls
from survey.config import Settings

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

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


def test_a_gather_that_stores_an_answer_sends_five_statements(app: Flask, dial: Dial, settings: Settings, engine: Engine,
                                                twiml_schema: etree.XMLSchema, urls: WebhookUrls) -> None:
    call = Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)
    call.answer(urls.start(call.attempt_id))
    call.press("1")  # the language menu
    for keys in ("1", "1", "1"):  # consent, then two screeners: each stores an answer
        with _statements(engine) as sent:
            call.press(keys)
        # lock and read the attempt; read its case, interview and any stored reply; the interview's
        # state; the answer; the reply. The survey and its questionnaire are never read again.
        assert len(sent) <= 5, "\n".join(sent)
        assert not [statement for statement in sent if "surveys" in statement]
