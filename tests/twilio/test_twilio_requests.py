"""Malformed webhook requests get 400 with the reason, before anything is read or stored."""

from __future__ import annotations

import pytest
from flask import Flask
from lxml import etree
from twilio_caller import Call

from survey.config import Settings

SID = "CA" + "a" * 32


@pytest.mark.parametrize(("kind", "query", "form", "message"), [
    ("start", "", {"CallSid": SID}, "missing query parameter attempt"),
    ("start", "attempt=x1", {"CallSid": SID}, "query parameter attempt must be a whole number"),
    ("start", "attempt={a}", {}, "missing field CallSid"),
    ("start", "attempt={a}", {"CallSid": "CA 1"}, "is not a call id"),
    ("gather", "attempt={a}", {"CallSid": SID, "Digits": "1"}, "missing query parameter seq"),
    ("gather", "attempt={a}&seq=0", {"CallSid": SID, "Digits": "1"}, "seq must be 1 or more"),
    ("gather", "attempt={a}&seq=1", {"CallSid": SID, "Digits": "1a"}, "Digits '1a' holds something other"),
    ("recorded", "attempt={a}&seq=1", {"CallSid": SID, "RecordingUrl": "https://x/r"}, "missing field Recording"),
    ("recorded", "attempt={a}&seq=1", {"CallSid": SID, "RecordingUrl": "https://x/r", "RecordingDuration": "ten"},
     "RecordingDuration must be a number"),
    ("status", "attempt={a}", {"CallSid": SID}, "missing field CallStatus"),
    ("status", "attempt={a}", {"CallSid": SID, "CallStatus": "exploded"}, "CallStatus 'exploded' is not one of"),
    ("amd", "attempt={a}", {"CallSid": SID}, "missing field AnsweredBy"),
    ("amd", "attempt={a}", {"CallSid": SID, "AnsweredBy": "robot"}, "AnsweredBy 'robot' is not one of"),
    ("recording", "attempt={a}", {"CallSid": SID, "RecordingSid": "RE1"}, "missing field RecordingStatus"),
    ("dialed", "attempt={a}&seq=3", {"CallSid": SID}, "missing field DialCallStatus"),
    ("dialed", "attempt={a}&seq=3", {"CallSid": SID, "DialCallStatus": "maybe"}, "DialCallStatus 'maybe' is not"),
])
def test_a_malformed_request_gets_400_saying_what_is_wrong(app_without_database: Flask, settings: Settings,
                                                            twiml_schema: etree.XMLSchema, kind: str, query: str,
                                                            form: dict[str, str], message: str) -> None:
    """Refused before anything is read or stored: there is no database behind this app."""
    call = Call(app_without_database.test_client(), settings, twiml_schema, 1, SID)
    url = f"{settings.public_url}/twilio/voice/{kind}?{query.format(a=call.attempt_id)}".rstrip("?")
    response = call.post(url, form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
