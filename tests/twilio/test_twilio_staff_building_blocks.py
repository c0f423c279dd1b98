"""The TwiML and REST requests of staff-placed calls, checked against Twilio's TwiML schema and its
OpenAPI description (every request through the stand-in is validated)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fake_twilio import FakeTwilio
from lxml import etree

from calls.staff_lines import BridgeRequest, StaffLineError
from ivr.channels.twilio.rest import make_client
from ivr.channels.twilio.staff import TwilioStaffLine
from ivr.channels.twilio.staff_rest import StaffCallRest
from ivr.channels.twilio.staff_twiml import StaffTwiml, conference_name
from ivr.channels.twilio.staff_urls import StaffCallUrls
from ivr.engine import Prompt
from survey.config import Settings

URLS = StaffCallUrls("https://survey.example.gov.cn/")
TWIML = StaffTwiml(URLS, voices={"zh": "Polly.Zhiyu-Neural"})
CONSENT = Prompt("staff/consent", "为保证服务质量，本次通话将被录音。", "zh")


def _valid(schema: etree.XMLSchema, xml: str) -> etree._Element:
    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), f"{schema.error_log}\n{xml}"
    return doc


def _conference(doc: etree._Element) -> etree._Element:
    (dial,) = doc.findall("Dial")
    (conference,) = dial
    assert conference.tag == "Conference" and conference.text == conference_name(7)
    return conference


def test_the_staff_member_waits_in_the_conference_the_resident_starts(twiml_schema: etree.XMLSchema) -> None:
    doc = _valid(twiml_schema, TWIML.staff_joins(7, record=False))
    assert [el.tag for el in doc] == ["Dial"]
    assert dict(_conference(doc).attrib) == {"beep": "false", "startConferenceOnEnter": "false",
                                             "endConferenceOnExit": "true", "waitUrl": ""}


def test_a_recorded_call_plays_the_consent_then_goes_on_to_the_bridge(twiml_schema: etree.XMLSchema) -> None:
    doc = _valid(twiml_schema, TWIML.consent(7, CONSENT))
    assert [el.tag for el in doc] == ["Say", "Redirect"]
    assert (doc[0].text, doc[0].get("language"), doc[0].get("voice")) == (
        CONSENT.text, "cmn-CN", "Polly.Zhiyu-Neural")
    assert doc[1].text == "https://survey.example.gov.cn/twilio/staff/bridge?call=7&leg=resident"
    assert doc[1].get("method") == "POST"


def test_a_recorded_consent_notice_is_played(twiml_schema: etree.XMLSchema) -> None:
    audio = "https://survey.example.gov.cn/twilio/prompts/q/zh/msg-recording_consent.wav"
    doc = _valid(twiml_schema, TWIML.consent(7, CONSENT, lambda prompt: audio if prompt == CONSENT else None))
    assert [(el.tag, el.text) for el in doc][0] == ("Play", audio)


def test_the_resident_starts_the_recorded_conference(twiml_schema: etree.XMLSchema) -> None:
    conference = _conference(_valid(twiml_schema, TWIML.resident_joins(7, record=True)))
    assert conference.get("startConferenceOnEnter") == "true" and conference.get("endConferenceOnExit") == "true"
    assert conference.get("record") == "record-from-start"
    assert conference.get("recordingStatusCallback") == "https://survey.example.gov.cn/twilio/staff/recording?call=7"
    assert (conference.get("recordingStatusCallbackMethod"), conference.get("recordingStatusCallbackEvent")) == (
        "POST", "completed")


def test_both_legs_of_a_recorded_call_ask_for_the_same_recording(twiml_schema: etree.XMLSchema) -> None:
    staff = _conference(_valid(twiml_schema, TWIML.staff_joins(7, record=True)))
    resident = _conference(_valid(twiml_schema, TWIML.resident_joins(7, record=True)))
    keys = ("record", "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent")
    assert [staff.get(k) for k in keys] == [resident.get(k) for k in keys]


def test_an_unrecorded_call_joins_without_recording(twiml_schema: etree.XMLSchema) -> None:
    doc = _valid(twiml_schema, TWIML.resident_joins(7, record=False))
    assert [el.tag for el in doc] == ["Dial"] and _conference(doc).get("record") is None


def test_a_leg_of_a_call_that_is_over_hangs_up(twiml_schema: etree.XMLSchema) -> None:
    assert [el.tag for el in _valid(twiml_schema, TWIML.hang_up())] == ["Hangup"]


@pytest.fixture
def rest(settings: Settings, fake: FakeTwilio) -> StaffCallRest:
    return StaffCallRest(make_client(settings, fake), settings.twilio_from, StaffCallUrls(settings.public_url))


def test_a_leg_is_an_outbound_call_with_every_progress_event_and_no_machine_detection(
        rest: StaffCallRest, fake: FakeTwilio, settings: Settings) -> None:
    sid = rest.place_leg(7, "resident", "+8613800138000", 30)
    rest.place_leg(7, "staff", "+8613900139000", 20, caller_id="+15005550009")
    sent, staff = fake.calls_created()
    assert staff.one("From") == "+15005550009" and staff.one("Url").endswith("leg=staff")
    assert sid.startswith("CA") and len(sid) == 34
    assert sent.one("To") == "+8613800138000" and sent.one("From") == settings.twilio_from
    assert sent.one("Url") == f"{settings.public_url}/twilio/staff/answered?call=7&leg=resident"
    assert sent.one("StatusCallback") == f"{settings.public_url}/twilio/staff/status?call=7&leg=resident"
    assert sent.form["StatusCallbackEvent"] == ["ringing", "answered", "completed"]
    assert staff.form["StatusCallbackEvent"] == ["answered", "completed"]
    assert sent.one("Timeout") == "30" and sent.one("Method") == "POST"
    assert not {"MachineDetection", "AsyncAmd", "Record"} & sent.form.keys()


def test_a_ring_timeout_twilio_would_refuse_is_not_sent(rest: StaffCallRest, fake: FakeTwilio) -> None:
    with pytest.raises(ValueError, match="1-600"):
        rest.place_leg(7, "staff", "+8613800138000", 601)
    assert fake.sent == []


def test_a_listener_joins_the_conference_by_name_muted(rest: StaffCallRest, fake: FakeTwilio,
                                                       settings: Settings) -> None:
    sid = rest.add_listener(7, "+8613900139000")
    (sent,) = fake.participants_added()
    assert urlsplit(sent.url).path == (f"/2010-04-01/Accounts/{settings.twilio_account_sid}/Conferences/"
                                       f"{conference_name(7)}/Participants.json")
    assert sent.form == {"From": [settings.twilio_from], "To": ["+8613900139000"], "Muted": ["true"],
                         "Beep": ["false"], "StartConferenceOnEnter": ["false"], "EndConferenceOnExit": ["false"],
                         "Timeout": ["30"]}
    assert sid.startswith("CA") and len(sid) == 34


def test_a_leg_is_hung_up_ringing_or_answered(rest: StaffCallRest, fake: FakeTwilio) -> None:
    rest.end_leg("CA" + "1" * 32)
    (sent,) = fake.calls_updated()
    assert sent.path.endswith("/Calls/CA" + "1" * 32 + ".json") and sent.form == {"Status": ["completed"]}


def test_a_staff_phone_twilio_cannot_ring_is_refused(settings: Settings, fake: FakeTwilio) -> None:
    request = BridgeRequest(1, "PJSIP/1001", "+8613800138000", None, 30, False, None)
    with pytest.raises(StaffLineError, match="E.164"):
        TwilioStaffLine(settings, http_client=fake).place(request)
    assert fake.sent == []
