"""Whole calls recorded at Twilio when the centre turns it on (``MINYI_RECORD_CALLS``): the call
is created with recording on, and its recording comes home with its call attempt and interview
through the fetcher; with the setting off nothing asks Twilio to record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from fake_twilio import FakeTwilio
from flask import Flask
from lxml import etree
from openapi_core import OpenAPI
from playback_support import playbacks, plays, staff
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Call, Dial
from twilio_media import TwilioMedia, wav

from dialer.protocol import CallRequest
from ivr.channels.twilio import TwilioChannel
from ivr.channels.twilio.fetch import RecordingFetcher
from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings, load_settings
from survey.errors import Refused
from survey.models import Interview, Recording
from survey.vocabulary import RecordingDownload

SID = "RE" + "6" * 32
CALL_SID = "CA" + "f" * 32
NOTICE = "本次通话将被录音"


def _request(attempt_id: int, case_id: int) -> CallRequest:
    return CallRequest(attempt_id=attempt_id, case_id=case_id, interview_id=None, number="+8613800138000",
                       caller_id="", language=None, ring_timeout_s=25)


def test_the_setting_is_off_unless_the_centre_turns_it_on() -> None:
    assert load_settings({}).record_calls is False
    assert load_settings({"MINYI_RECORD_CALLS": "true"}).record_calls is True
    with pytest.raises(Refused, match="MINYI_RECORD_CALLS"):
        load_settings({"MINYI_RECORD_CALLS": "sometimes"})


def test_with_the_setting_off_no_call_is_recorded_nor_announced_as_recorded(
        app: Flask, settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock, fake: FakeTwilio,
        dial: Dial, twiml_schema: etree.XMLSchema, urls: WebhookUrls) -> None:
    dialled = dial()
    TwilioChannel(settings, sessions, clock, http_client=fake).place_call(_request(dialled.attempt_id,
                                                                                   dialled.case_id))
    (sent,) = fake.sent
    assert "Record" not in sent.form and "RecordingStatusCallback" not in sent.form
    call = Call(app.test_client(), settings, twiml_schema, dialled.attempt_id, CALL_SID)
    call.answer(urls.start(call.attempt_id))
    call.press("1")
    assert call.verbs()[-1] == "Gather" and not any(NOTICE in said for said in call.spoken())


def test_with_the_setting_on_a_whole_call_is_recorded_announced_and_comes_home_with_its_interview(
        app_for: Callable[[Settings], Flask], dial: Dial, settings: Settings, twiml_schema: etree.XMLSchema,
        urls: WebhookUrls, openapi: OpenAPI, fake: FakeTwilio, sessions: sessionmaker[Session], clock: VirtualClock,
        tmp_path: Path) -> None:
    home = replace(settings, record_calls=True, recordings_dir=str(tmp_path / "recordings"))
    media = TwilioMedia(openapi, home.twilio_account_sid, home.twilio_auth_token)
    dialled = dial()
    TwilioChannel(home, sessions, clock, http_client=fake).place_call(_request(dialled.attempt_id, dialled.case_id))
    (sent,) = fake.sent
    assert sent.one("Record") == "true"
    callback = sent.one("RecordingStatusCallback")
    call = Call(app_for(home).test_client(), home, twiml_schema, dialled.attempt_id, CALL_SID)
    call.answer(urls.start(call.attempt_id))
    call.press("1")  # 普通话: the introduction, the notice, the consent question; then the resident hangs up
    assert any(NOTICE in said for said in call.spoken())
    call.notify(callback, {"RecordingSid": SID, "RecordingStatus": "completed", "RecordingDuration": "40",
                           "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{home.twilio_account_sid}"
                                           f"/Recordings/{SID}"})
    with sessions() as s:
        interview_id = s.scalars(select(Interview.id).where(Interview.case_id == dialled.case_id)).one()
        row = s.scalars(select(Recording).where(Recording.provider_id == SID)).one()
        s.expunge(row)
    assert (row.attempt_id, row.interview_id, row.question_id, row.download_status) == (
        dialled.attempt_id, interview_id, "call", RecordingDownload.PENDING)
    media.files[SID] = wav(40)
    fetcher = RecordingFetcher(home, sessions, clock, transport=media.transport)
    try:
        assert fetcher.run().stored == 1 and media.files == {}  # home, and deleted at Twilio
    finally:
        fetcher.close()
    listener, user_id = staff(home, sessions, clock, townships=["T01"])
    assert plays(listener, row.id) == wav(40)
    assert playbacks(sessions, row.id) == [user_id]
