"""The webhooks one behaviour at a time (SQLite): signatures, malformed requests, answering
machines, call progress, hang-ups, operator transfer, callbacks and recordings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fake_twilio import FakeTwilio
from flask import Flask
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator
from twilio_caller import Call, Dial, Services

from dialer.pacer import ABANDON_CAUSES
from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings
from survey.models import Answer, CallAttempt, Case, FollowUpTask, Interview, Recording, WebhookReply
from survey.vocabulary import AnswerStatus, AttemptStatus, CaseStatus, InterviewStatus, RecordingDownload
from web.blueprints.twilio import EXTENSION, build_webhooks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

SID = "CA" + "a" * 32


@pytest.fixture
def call(app: Flask, dial: Dial, settings: Settings, twiml_schema: etree.XMLSchema) -> Call:
    return Call(app.test_client(), settings, twiml_schema, dial().attempt_id, SID)


def _attempt(sessions: sessionmaker[Session], attempt_id: int) -> CallAttempt:
    with sessions() as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None
        s.expunge(attempt)
        return attempt


def _case(sessions: sessionmaker[Session], case_id: int | None = None) -> Case:
    with sessions() as s:
        case = s.get(Case, case_id) if case_id else s.scalars(select(Case)).one()
        assert case is not None
        s.expunge(case)
        return case


def _interview(sessions: sessionmaker[Session]) -> Interview:
    with sessions() as s:
        interview = s.scalars(select(Interview)).one()
        s.expunge(interview)
        return interview


def _to_consent(call: Call, urls: WebhookUrls) -> None:
    call.answer(urls.start(call.attempt_id))
    call.press("1")  # 普通话


def test_prompts_are_spoken_in_the_configured_voice_of_their_language(call: Call, urls: WebhookUrls,
                                                                      settings: Settings) -> None:
    chinese = call.answer(urls.start(call.attempt_id)).iter("Say")
    english = call.press("2").iter("Say")  # the language menu: 2 for English
    assert {say.get("voice") for say in chinese} == {settings.twilio_voice_zh}
    assert {say.get("voice") for say in english} == {settings.twilio_voice_en}


def test_replies_are_kept_for_retries_for_a_day_then_pruned(app: Flask, dial: Dial, settings: Settings,
                                                            twiml_schema: etree.XMLSchema, urls: WebhookUrls,
                                                            sessions: sessionmaker[Session],
                                                            clock: VirtualClock) -> None:
    def replies() -> dict[str, int]:
        with sessions() as s:
            sids = s.scalars(select(WebhookReply.call_sid)).all()
        return {sid: sids.count(sid) for sid in set(sids)}

    first = Call(app.test_client(), settings, twiml_schema, dial("+8613800000001").attempt_id, "CA" + "1" * 32)
    _to_consent(first, urls)
    first.notify(urls.status(first.attempt_id), {"CallStatus": "completed"})
    url, form, reply = first.log[-1]
    assert first.post(url, form).data == reply  # a retry soon after the end: the same reply
    assert replies() == {first.sid: 2}

    clock.advance(timedelta(hours=25))
    second = Call(app.test_client(), settings, twiml_schema, dial("+8613800000002").attempt_id, "CA" + "2" * 32)
    _to_consent(second, urls)
    second.notify(urls.status(second.attempt_id), {"CallStatus": "completed"})
    assert replies() == {second.sid: 2}  # the first call's are gone, the second's kept
    late = first.post(url, form)  # a day late: the call is over, nothing is stored
    assert late.status_code == 200 and etree.fromstring(late.data)[0].tag == "Hangup"
    assert replies() == {second.sid: 2}


# -- signatures ---------------------------------------------------------------------------------


def test_a_forged_or_missing_signature_is_refused(call: Call, urls: WebhookUrls, settings: Settings) -> None:
    url, form = urls.start(call.attempt_id), {"CallSid": SID, "CallStatus": "in-progress"}
    assert call.post(url, form, signature="forged=").status_code == 403
    assert call.client.post(url[len(settings.public_url):], data=form).status_code == 403
    assert call.post(url, form, signature=RequestValidator("another-token").compute_signature(url, form)
                     ).status_code == 403
    plain_http = url.replace("https://", "http://")  # signed for another URL than the public one
    assert call.post(url, form, signature=RequestValidator(settings.twilio_auth_token).compute_signature(
        plain_http, form)).status_code == 403
    tampered = RequestValidator(settings.twilio_auth_token).compute_signature(url, form)
    assert call.post(url, {**form, "Digits": "9"}, signature=tampered).status_code == 403
    assert call.post(url, form).status_code == 200  # the same request, properly signed


def test_a_request_costs_one_hmac_and_the_port_form_is_accepted(call: Call, urls: WebhookUrls,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Twilio may sign the URL with the default port written out; checking the URL as received
    first leaves the second HMAC to that case (``RequestValidator.validate`` always computes two)."""
    validator = RequestValidator(call.settings.twilio_auth_token)
    url, form = urls.start(call.attempt_id), {"CallSid": SID, "CallStatus": "in-progress"}
    as_received = validator.compute_signature(url, form)
    with_port = validator.compute_signature(url.replace(".gov.cn/", ".gov.cn:443/"), form)
    computed: list[str] = []
    compute = RequestValidator.compute_signature
    monkeypatch.setattr(RequestValidator, "compute_signature",
                        lambda self, uri, params, algorithm=None: computed.append(uri) or compute(self, uri, params))
    assert call.post(url, form, signature=as_received).status_code == 200
    assert computed == [url]
    assert call.post(url, form, signature=with_port).status_code == 200


def test_the_signature_holds_behind_a_tls_proxy(call: Call, urls: WebhookUrls) -> None:
    """The app is reached over plain HTTP on another host; Twilio signed the public https URL."""
    url, form = urls.start(call.attempt_id), {"CallSid": SID}
    signature = RequestValidator(call.settings.twilio_auth_token).compute_signature(url, form)
    response = call.client.post(url[len(call.settings.public_url):], data=form, base_url="http://10.0.0.5:8000",
                                headers={"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"})
    assert response.status_code == 200


# -- requests that cannot be served -----------------------------------------------------------


def test_an_unknown_attempt_is_404_and_another_calls_attempt_409(call: Call, urls: WebhookUrls) -> None:
    response = call.post(urls.start(call.attempt_id + 100), {"CallSid": SID})
    assert response.status_code == 404 and f"no call attempt {call.attempt_id + 100}" in response.get_data(True)
    call.answer(urls.start(call.attempt_id))
    response = call.post(urls.gather(call.attempt_id, 1), {"CallSid": "CA" + "b" * 32, "Digits": "1"})
    assert response.status_code == 409 and SID in response.get_data(as_text=True)


# -- call progress ------------------------------------------------------------------------------


def test_status_callbacks_never_move_a_call_backwards(call: Call, urls: WebhookUrls,
                                                      sessions: sessionmaker[Session]) -> None:
    status = urls.status(call.attempt_id)
    for state, expected in [("ringing", AttemptStatus.RINGING), ("initiated", AttemptStatus.RINGING),
                            ("in-progress", AttemptStatus.IN_PROGRESS), ("ringing", AttemptStatus.IN_PROGRESS),
                            ("queued", AttemptStatus.IN_PROGRESS)]:
        call.notify(status, {"CallStatus": state})
        assert _attempt(sessions, call.attempt_id).status == expected


@pytest.mark.parametrize(("state", "form", "temp", "attempt_status"), [
    ("busy", {}, "3.12", AttemptStatus.BUSY),
    ("no-answer", {}, "3.13", AttemptStatus.NO_ANSWER),
    ("failed", {"SipResponseCode": "404"}, "4.31", AttemptStatus.FAILED),
    ("failed", {"SipResponseCode": "503"}, "3.16", AttemptStatus.FAILED),
    ("canceled", {}, "3.16", AttemptStatus.CANCELED),
])
def test_an_unanswered_call_is_coded_once(call: Call, urls: WebhookUrls, sessions: sessionmaker[Session],
                                          state: str, form: dict[str, str], temp: str, attempt_status: str) -> None:
    call.notify(urls.status(call.attempt_id), {"CallStatus": "ringing"})
    call.notify(urls.status(call.attempt_id), {"CallStatus": state, **form})
    first = _case(sessions)
    call.notify(urls.status(call.attempt_id), {"CallStatus": state, **form})  # delivered again
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})  # a contradicting latecomer
    attempt = _attempt(sessions, call.attempt_id)
    assert (attempt.status, attempt.temp_disposition) == (attempt_status, temp)
    assert attempt.provider_call_id == SID
    assert _case(sessions).updated_at == first.updated_at
    if form:
        assert attempt.hangup_cause == f"SIP {form['SipResponseCode']}"


def test_a_hang_up_mid_interview_leaves_a_partial_to_resume(call: Call, urls: WebhookUrls,
                                                            sessions: sessionmaker[Session]) -> None:
    _to_consent(call, urls)
    for keys in ("1", "1", "1"):
        call.press(keys)
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed", "CallDuration": "40"})
    assert _interview(sessions).status == InterviewStatus.PARTIAL
    attempt = _attempt(sessions, call.attempt_id)
    assert attempt.temp_disposition == "1.2" and attempt.status == AttemptStatus.COMPLETED
    assert _case(sessions).status == CaseStatus.SCHEDULED
    call.press("1")  # a step arriving after the call ended changes nothing
    assert call.verbs() == ["Hangup"]
    with sessions() as s:
        assert len(s.scalars(select(Answer)).all()) == 3


def test_a_hang_up_during_the_introduction_is_a_soft_refusal(call: Call, urls: WebhookUrls,
                                                             sessions: sessionmaker[Session]) -> None:
    _to_consent(call, urls)
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed", "CallDuration": "12"})
    assert _attempt(sessions, call.attempt_id).temp_disposition == "2.11"
    assert _interview(sessions).status == InterviewStatus.IN_PROGRESS  # starts again next call
    assert _case(sessions).status == CaseStatus.SCHEDULED


# -- answering machines -------------------------------------------------------------------------


def test_an_answering_machine_ends_the_call_and_is_coded(call: Call, urls: WebhookUrls, fake: FakeTwilio,
                                                         sessions: sessionmaker[Session]) -> None:
    call.answer(urls.start(call.attempt_id))
    gather = call.gather_action()
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "4100"})
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "machine_end_beep"})  # delivered twice
    (hang_up,) = fake.sent
    assert hang_up.path.endswith(f"/Calls/{SID}.json") and hang_up.one("Status") == "completed"
    call.fetch(gather, {"Digits": ""})  # the greeting ran into the menu's timeout meanwhile
    assert call.verbs() == ["Hangup"]
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed", "AnsweredBy": "machine_end_beep"})
    attempt = _attempt(sessions, call.attempt_id)
    assert (attempt.temp_disposition, attempt.amd_result) == ("3.14", "machine_end_beep")
    assert _case(sessions).status == CaseStatus.SCHEDULED


def test_a_fax_is_not_a_household(call: Call, urls: WebhookUrls, sessions: sessionmaker[Session]) -> None:
    call.answer(urls.start(call.attempt_id))
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "fax"})
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})
    assert _attempt(sessions, call.attempt_id).temp_disposition == "4.20"
    assert _case(sessions).final_disposition == "4.20"


def test_a_person_who_answers_overrules_the_detector(call: Call, urls: WebhookUrls, fake: FakeTwilio,
                                                     sessions: sessionmaker[Session]) -> None:
    _to_consent(call, urls)
    call.press("1")  # consents
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "machine_start"})
    assert fake.sent == []
    assert "居住是否满半年" in " ".join(call.press("1").itertext())
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})
    assert _attempt(sessions, call.attempt_id).temp_disposition == "1.2"


def test_a_failed_hang_up_still_ends_the_call_at_its_next_step(call: Call, urls: WebhookUrls,
                                                                fake: FakeTwilio) -> None:
    call.answer(urls.start(call.attempt_id))
    fake.fail_next(500, 20500, "Internal Server Error")
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "machine_start"})
    assert len(fake.sent) == 1  # the hang-up was tried, and failed
    call.press("")
    assert call.verbs() == ["Hangup"]


def test_a_machine_verdict_before_the_answer_webhook_gets_no_interview(
        call: Call, urls: WebhookUrls, fake: FakeTwilio, sessions: sessionmaker[Session]) -> None:
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "machine_start"})
    assert len(fake.sent) == 1
    call.answer(urls.start(call.attempt_id))
    assert call.verbs() == ["Hangup"]
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})
    assert _attempt(sessions, call.attempt_id).temp_disposition == "3.14"


def test_a_machine_picked_up_by_synchronous_detection_gets_no_interview(
        call: Call, urls: WebhookUrls, sessions: sessionmaker[Session]) -> None:
    call.fetch(urls.start(call.attempt_id), {"AnsweredBy": "machine_start"})
    assert call.verbs() == ["Hangup"]
    with sessions() as s:
        assert s.scalars(select(Interview)).first() is None


# -- recorded prompts ---------------------------------------------------------------------------


def test_recorded_prompts_are_played_and_served_without_a_signature(
        app: Flask, call: Call, urls: WebhookUrls, settings: Settings, fake: FakeTwilio,
        sessions: sessionmaker[Session], clock: VirtualClock, tmp_path: Path) -> None:
    folder = tmp_path / "safety" / "zh"
    folder.mkdir(parents=True)
    wav = b"RIFF....WAVEfmt " + bytes(32)
    (folder / "msg__language_menu.wav").write_bytes(wav)
    recorded = replace(settings, prompts_dir=str(tmp_path))
    app.extensions[EXTENSION] = build_webhooks(Services(recorded, sessions, clock), http_client=fake)
    call.answer(urls.start(call.attempt_id))
    assert call.twiml is not None
    (play,) = call.twiml.iter("Play")
    assert play.text == f"{settings.public_url}/twilio/prompts/safety/zh/msg__language_menu.wav"
    served = call.client.get(play.text[len(settings.public_url):])
    assert served.status_code == 200 and served.data == wav and served.mimetype == "audio/wav"
    call.press("1")
    assert list(call.twiml.iter("Play")) == [] and call.spoken()  # no recordings for the rest: spoken
    for missing in ("safety/zh/msg__invalid.wav", "safety/zh/..%2F..%2Fsecret.wav", "safety/zh/menu.txt"):
        assert call.client.get(f"/twilio/prompts/{missing}").status_code == 404


# -- the end of an interview --------------------------------------------------------------------


def test_asking_for_a_person_dials_the_operator_when_there_is_one(
        app: Flask, call: Call, urls: WebhookUrls, settings: Settings, fake: FakeTwilio,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    operator = replace(settings, twilio_operator_number="+8657112345678")
    app.extensions[EXTENSION] = build_webhooks(Services(operator, sessions, clock), http_client=fake)
    _to_consent(call, urls)
    call.press("0")
    assert call.verbs() == ["Say", "Dial"] and "正在为您转接工作人员" in call.spoken()[0]
    assert call.twiml is not None and call.twiml.findtext("Dial") == "+8657112345678"
    dial = call.twiml.find("Dial")
    assert dial is not None
    call.fetch(dial.get("action") or "", {"DialCallStatus": "completed", "DialCallDuration": "300"})
    assert call.verbs() == ["Hangup"]
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})
    assert _interview(sessions).status == InterviewStatus.OPERATOR
    attempt = _attempt(sessions, call.attempt_id)
    assert attempt.temp_disposition == "2.30" and attempt.hangup_cause is None
    with sessions() as s:
        assert s.scalars(select(FollowUpTask)).one().kind == "operator_request"


def test_a_transfer_nobody_takes_is_an_abandoned_call(
        app: Flask, call: Call, urls: WebhookUrls, settings: Settings, fake: FakeTwilio,
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    operator = replace(settings, twilio_operator_number="+8657112345678")
    app.extensions[EXTENSION] = build_webhooks(Services(operator, sessions, clock), http_client=fake)
    _to_consent(call, urls)
    call.press("0")
    dial = call.twiml.find("Dial") if call.twiml is not None else None
    assert dial is not None
    call.fetch(dial.get("action") or "", {"DialCallStatus": "no-answer"})
    assert call.verbs() == ["Say", "Hangup"] and "工作人员会尽快与您联系" in call.spoken()[0]
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})
    attempt = _attempt(sessions, call.attempt_id)
    assert attempt.hangup_cause in ABANDON_CAUSES  # counted against the abandon cap
    assert _interview(sessions).status == InterviewStatus.OPERATOR


def test_asking_for_a_person_without_an_operator_ends_with_a_promise(call: Call, urls: WebhookUrls) -> None:
    _to_consent(call, urls)
    call.press("0")
    assert call.verbs() == ["Say", "Hangup"] and "工作人员会尽快与您联系" in call.spoken()[0]


def test_a_callback_choice_books_the_case(call: Call, urls: WebhookUrls, sessions: sessionmaker[Session],
                                          clock: VirtualClock) -> None:
    _to_consent(call, urls)
    call.press("2")  # not now
    assert "今晚回电请按1" in " ".join(call.spoken())
    call.press("2")  # tomorrow evening
    assert call.verbs()[-1] == "Hangup"
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed"})
    case = _case(sessions)
    assert case.status == CaseStatus.CALLBACK and case.callback_at is not None
    assert case.next_attempt_at == case.callback_at
    assert timedelta(hours=12) < case.callback_at - clock.now() < timedelta(hours=36)


def _to_the_suggestion(call: Call, urls: WebhookUrls) -> Call:
    _to_consent(call, urls)
    for keys in ("1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"):
        call.press(keys)
    assert call.verbs() == ["Say", "Record", "Redirect"]
    return call


@pytest.fixture
def at_the_suggestion(call: Call, urls: WebhookUrls) -> Iterator[Call]:
    _to_the_suggestion(call, urls)
    record = call.twiml.find("Record") if call.twiml is not None else None
    assert record is not None and record.get("maxLength") == "60" and record.get("finishOnKey") == "#"
    assert record.get("playBeep") == "true" and "recording" in (record.get("recordingStatusCallback") or "")
    yield call


def test_a_recorded_suggestion_waits_for_its_download(at_the_suggestion: Call, urls: WebhookUrls,
                                                      sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    call = at_the_suggestion
    rec_sid = "RE" + "2" * 32
    call.speak("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/" + rec_sid, 9, rec_sid)
    with sessions() as s:
        recording = s.scalars(select(Recording)).one()
        assert recording.download_status == RecordingDownload.PENDING and recording.path == ""
        assert recording.next_attempt_at is not None and recording.next_attempt_at > clock.now()  # not written yet
    clock.advance(timedelta(seconds=5))
    call.notify(urls.recording(call.attempt_id), {
        "RecordingSid": rec_sid, "RecordingStatus": "completed", "RecordingDuration": "10",
        "RecordingUrl": "https://api.twilio.com/final/" + rec_sid})
    with sessions() as s:
        recording = s.scalars(select(Recording)).one()
        assert recording.question_id == "q_suggest" and recording.duration_s == 10
        assert recording.remote_url == "https://api.twilio.com/final/" + rec_sid
        assert recording.next_attempt_at == clock.now()  # the file is complete: due at once


def test_a_recording_twilio_reports_failed_is_not_waited_for(at_the_suggestion: Call, urls: WebhookUrls,
                                                              sessions: sessionmaker[Session]) -> None:
    call, rec_sid = at_the_suggestion, "RE" + "9" * 32
    call.speak("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/" + rec_sid, 9, rec_sid)
    call.notify(urls.recording(call.attempt_id), {"RecordingSid": rec_sid, "RecordingStatus": "absent"})
    with sessions() as s:
        recording = s.scalars(select(Recording)).one()
        assert recording.download_status == RecordingDownload.FAILED and recording.next_attempt_at is None
        assert recording.last_error == "Twilio reported the recording absent"


def test_a_recording_delivered_twice_or_reused_by_another_call_is_harmless(
        app: Flask, at_the_suggestion: Call, urls: WebhookUrls, dial: Dial, settings: Settings,
        twiml_schema: etree.XMLSchema, sessions: sessionmaker[Session]) -> None:
    first, rec_sid = at_the_suggestion, "RE" + "4" * 32
    record_action = first.twiml.find("Record").get("action") if first.twiml is not None else None
    assert record_action
    media = {"RecordingUrl": "https://api.twilio.com/r/" + rec_sid, "RecordingDuration": "9",
             "RecordingSid": rec_sid, "Digits": "#"}
    after = etree.tostring(first.speak(media["RecordingUrl"], 9, rec_sid))
    assert etree.tostring(first.fetch(record_action, media)) == after  # Twilio's retry: the same reply
    second = _to_the_suggestion(Call(app.test_client(), settings, twiml_schema,
                                     dial("+8613800138001").attempt_id, "CA" + "b" * 32), urls)
    second.speak(media["RecordingUrl"], 9, rec_sid)  # the same RecordingSid on another call
    assert "年龄" in " ".join(second.spoken())  # the interview goes on
    with sessions() as s:
        recording = s.scalars(select(Recording)).one()  # no second row
        interviews = s.scalars(select(Interview).order_by(Interview.id)).all()
        assert recording.interview_id == interviews[0].id
        suggested = s.scalars(select(Answer).where(Answer.question_id == "q_suggest")).all()
        assert {a.interview_id for a in suggested} == {i.id for i in interviews}  # both answers kept


def test_silence_at_the_beep_is_no_answer(at_the_suggestion: Call, sessions: sessionmaker[Session]) -> None:
    call = at_the_suggestion
    call.stay_silent_at_the_beep()
    assert "年龄" in " ".join(call.spoken())
    with sessions() as s:
        answer = s.scalars(select(Answer).where(Answer.question_id == "q_suggest")).one()
        assert answer.status == AnswerStatus.NO_ANSWER
        assert s.scalars(select(Recording)).first() is None


def test_a_whole_call_recording_is_kept_with_the_interview(call: Call, urls: WebhookUrls,
                                                          sessions: sessionmaker[Session]) -> None:
    call.answer(urls.start(call.attempt_id))
    form = {"RecordingSid": "RE" + "3" * 32, "RecordingStatus": "completed", "RecordingDuration": "95",
            "RecordingUrl": "https://api.twilio.com/r/RE3"}
    call.notify(urls.recording(call.attempt_id, whole_call=True), form)
    call.notify(urls.recording(call.attempt_id, whole_call=True), form)  # twice
    with sessions() as s:
        recording = s.scalars(select(Recording)).one()
        assert (recording.question_id, recording.duration_s) == ("call", 95)
        assert recording.remote_url == form["RecordingUrl"] and recording.download_status == RecordingDownload.PENDING
