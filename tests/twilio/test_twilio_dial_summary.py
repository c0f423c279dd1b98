"""``minyi dial --channel twilio`` ends while its calls are still running (their results come
through the webhooks): its summary counts the calls placed, finished and in flight in the
database, not the worker's own count of results."""

from __future__ import annotations

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Call, Dial

from dialer.worker import WorkerReport
from ivr.channels.twilio.urls import WebhookUrls
from minyi.commands.dial import run_summary
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import CallAttempt

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

OWNER = "host-4242"


def test_the_summary_says_which_calls_are_still_in_flight(app: Flask, dial: Dial, settings: Settings,
                                                          twiml_schema: etree.XMLSchema, urls: WebhookUrls,
                                                          sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    began = clock.now()
    attempts = [dial(f"+86138001380{i:02d}").attempt_id for i in range(3)]
    with session_scope(sessions) as s:
        s.execute(update(CallAttempt).where(CallAttempt.id.in_(attempts)).values(worker=OWNER))
    report = WorkerReport("no_cases", placed=3, results=0, dispositions={}, elapsed_s=1.0, started=began, ended=began)
    assert "3 call(s) placed, 0 finished, 3 still in flight (their results arrive through the webhooks)" in run_summary(
        sessions, report, OWNER)

    for i, attempt_id in enumerate(attempts[:2]):  # two calls end: Twilio reports it to the webhooks
        call = Call(app.test_client(), settings, twiml_schema, attempt_id, f"CA{i:032d}")
        call.answer(urls.start(attempt_id))
        call.notify(urls.status(attempt_id), {"CallStatus": "completed", "CallDuration": "20"})
    assert "3 call(s) placed, 2 finished, 1 still in flight" in run_summary(sessions, report, OWNER)
    assert "3 call(s) placed, 0 finished, 0:00:00 of fieldwork" in run_summary(sessions, report, "another-worker")
