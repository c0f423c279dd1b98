"""A whole interview of the bundled questionnaire over the webhooks, as Twilio would drive it, on
SQLite and on PostgreSQL: signed posts, TwiML followed step by step and checked against the
schema, duplicated and concurrent deliveries, replays and late, out-of-order status callbacks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Call, Dial

from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings
from survey.models import Answer, CallAttempt, Case, Interview, Recording, WebhookReply
from survey.vocabulary import AttemptStatus, CaseStatus, InterviewStatus

SID = "CA" + "5" * 32
# (keys pressed, what the next prompt must contain): language 1 = 普通话, then the questionnaire
SCRIPT = [
    ("1", "同意接受访问请按1"),  # language menu → introduction and consent
    ("1", "年满18周岁"),  # consent → age screener
    ("1", "居住是否满半年"),
    ("1", "您觉得安全吗"),
    ("4", "主要担心哪些治安问题"),  # not very safe → the follow-up on worries
    ("25", "与去年相比"),
    ("", "没有收到您的按键"),  # a timeout on the trend question: re-prompted
    ("2", "公安机关"),
    ("1", "人民法院"),
    ("2", "人民检察院"),
    ("3", "司法行政机关"),
    ("6", "政法队伍"),
    ("1", "意见和建议吗"),
    ("1", "请在提示音后说出"),  # yes, a suggestion → <Record>
]
AFTER_RECORDING = [
    ("2", "您的性别"),
    ("1", "居住了多少年"),
    ("15", "访问结束"),
]


def _delivered_twice(app: Flask, call: Call, keys: str) -> etree._Element:
    """Twilio retries a delivery: the same request again gets the same reply."""
    doc = call.press(keys)
    url, form, first = call.log[-1]
    again = call.post(url, form)
    assert again.status_code == 200 and again.data == first
    return doc


def _delivered_concurrently(app: Flask, call: Call, keys: str, copies: int = 4) -> etree._Element:
    """The same delivery several times at once (a retry racing the original): one answer."""
    url, form = call.gather_action(), {"CallSid": call.sid, "Digits": keys}

    def deliver(_: int) -> bytes:
        twin = Call(app.test_client(), call.settings, call.schema, call.attempt_id, call.sid)
        response = twin.post(url, form)
        assert response.status_code == 200, response.get_data(as_text=True)
        return bytes(response.data)

    with ThreadPoolExecutor(copies) as pool:
        replies = set(pool.map(deliver, range(copies)))
    assert len(replies) == 1
    return call.fetch(url, {"Digits": keys})


def test_a_whole_interview_through_the_webhooks(app: Flask, dial: Dial, settings: Settings, urls: WebhookUrls,
                                               twiml_schema: etree.XMLSchema, sessions: sessionmaker[Session],
                                               clock: VirtualClock) -> None:
    dialled = dial()
    call = Call(app.test_client(), settings, twiml_schema, dialled.attempt_id, SID)
    for status in ("initiated", "ringing"):
        call.notify(urls.status(call.attempt_id), {"CallStatus": status})
    clock.advance(timedelta(seconds=5))
    call.answer(urls.start(call.attempt_id))
    assert "For English, press 2" in " ".join(call.spoken())
    call.notify(urls.amd(call.attempt_id), {"AnsweredBy": "human"})

    for i, (keys, expected) in enumerate(SCRIPT):
        clock.advance(timedelta(seconds=6))
        if i == 2:
            _refused_without_effect(call)
        if keys == "4":
            _delivered_concurrently(app, call, keys)
        elif i % 3 == 0:
            _delivered_twice(app, call, keys)
        else:
            call.press(keys)
        assert expected in " ".join(call.spoken()), (keys, call.spoken())
    call.speak("https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1", 12, "RE" + "1" * 32)
    assert "年龄" in " ".join(call.spoken())
    for keys, expected in AFTER_RECORDING:
        call.press(keys)
        assert expected in " ".join(call.spoken())
    assert call.verbs()[-1] == "Hangup"
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed", "CallDuration": "170"})

    with sessions() as s:
        _check_stored(s, call)
        replies = s.scalar(select(func.count()).select_from(WebhookReply).where(WebhookReply.call_sid == SID))
        assert replies == 1 + len(SCRIPT) + 1 + len(AFTER_RECORDING)

    _replays_change_nothing(call, urls, sessions)


def _refused_without_effect(call: Call) -> None:
    """A forged delivery and a malformed one, mid-interview: refused, and the call goes on as if
    they had never come (the script's next prompts prove it)."""
    action = call.gather_action()
    forged = call.post(action, {"CallSid": call.sid, "Digits": "3"}, signature="bm90IHR3aWxpbw==")
    assert forged.status_code == 403
    missing = call.post(action, {"Digits": "3"})
    assert missing.status_code == 400 and "missing field CallSid" in missing.get_data(as_text=True)


def _check_stored(s: Session, call: Call) -> None:
    interview = s.scalars(select(Interview)).one()
    assert interview.status == InterviewStatus.COMPLETE and interview.consent is True
    answers = {a.question_id: a for a in s.scalars(select(Answer).where(Answer.interview_id == interview.id))}
    assert answers["q_safety"].code == 4
    assert answers["q_worries"].codes == [2, 5]
    assert answers["q_trend"].code == 2 and answers["q_trend"].reprompts == 1
    assert answers["q_justice"].code == 8  # key 6: don't know
    assert answers["d_years"].value == 15.0
    assert answers["q_suggest"].status == "answered"
    assert len(answers) == 16  # every question but the introduction (a message)
    recording = s.scalars(select(Recording)).one()
    assert recording.provider_id == "RE" + "1" * 32 and recording.duration_s == 12
    attempt = s.get(CallAttempt, call.attempt_id)
    assert attempt is not None
    assert attempt.status == AttemptStatus.COMPLETED and attempt.temp_disposition == "1.1"
    assert attempt.provider_call_id == SID and attempt.amd_result == "human"
    assert attempt.answered_at is not None and attempt.answered_at > attempt.started_at
    case = s.get(Case, attempt.case_id)
    assert case is not None and case.status == CaseStatus.FINAL and case.final_disposition == "1.1"


def _replays_change_nothing(call: Call, urls: WebhookUrls, sessions: sessionmaker[Session]) -> None:
    def snapshot() -> tuple[object, ...]:
        with sessions() as s:
            answers = s.execute(select(Answer.question_id, Answer.code, Answer.codes, Answer.value)
                                .order_by(Answer.question_id)).all()
            attempt = s.get(CallAttempt, call.attempt_id)
            case = s.scalars(select(Case)).one()
            assert attempt is not None
            return (tuple(answers), attempt.status, attempt.ended_at, case.status, case.final_disposition,
                    case.updated_at)

    before = snapshot()
    for url, form, reply in call.log[3:7]:  # a replay of an old step gets that step's reply
        response = call.post(url, form)
        assert response.status_code == 200 and response.data == reply
    for late in ("ringing", "in-progress", "completed", "no-answer"):  # late, out of order, repeated
        call.notify(urls.status(call.attempt_id), {"CallStatus": late})
    assert snapshot() == before
