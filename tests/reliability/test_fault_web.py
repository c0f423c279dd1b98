"""The web app (gunicorn on PostgreSQL, as in production) SIGKILLed and restarted while an
interviewer is mid-interview and while Twilio is mid-call: what was acknowledged is stored, the
interview goes on at its question, and Twilio's retries of deliveries made before the crash get
the replies they got then and store nothing twice."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from lxml import etree
from reliability_http import Browser, HttpTransport
from reliability_support import Child, free_port, serve_web, sibling_conftest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_console import FINISH, _question
from test_twilio_interview import SCRIPT
from twilio_caller import Call, Dial
from web_support import only_due

from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings
from survey.models import Answer, Case, Interview, WebhookReply
from survey.vocabulary import InterviewStatus
from web.demo_data import DEMO_PASSWORD, PARTIAL_RESUMES_AT, Demo, seed

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

_web, _twilio = sibling_conftest("web"), sibling_conftest("twilio")
_cheap_password_hashes = _web._cheap_password_hashes
settings, urls, dial, twiml_schema = _twilio.settings, _twilio.urls, _twilio.dial, _twilio.twiml_schema
SID = "CA" + "7" * 32


def _seed(sessions: sessionmaker[Session], tmp_path: Path) -> Demo:
    with sessions() as s:
        demo = seed(s, VirtualClock(_web.START), secret_key=_web.SECRET, recordings_dir=tmp_path / "recordings",
                    cases_per_township=6)
        s.commit()
    only_due(sessions, demo.partial_task_id)
    return demo


def _env(db_url: str, tmp_path: Path, secret: str, **extra: str) -> dict[str, str]:
    return {"MINYI_DATABASE_URL": db_url, "MINYI_SECRET_KEY": secret,
            "MINYI_RECORDINGS_DIR": str(tmp_path / "recordings"), **extra}


def _answers(sessions: sessionmaker[Session], case_id: int) -> dict[str, tuple[int | None, str]]:
    with sessions() as s:
        rows = s.execute(select(Answer.question_id, Answer.code, Answer.mode).join(Interview)
                         .where(Interview.case_id == case_id)).all()
    return {q: (code, mode) for q, code, mode in rows}


def _kill_during(server: Child, send: Callable[[], object]) -> None:
    """SIGKILL the server while ``send`` is (most likely) being served; its connection may break."""
    def request() -> None:
        with contextlib.suppress(requests.ConnectionError):
            send()

    thread = threading.Thread(target=request)
    thread.start()
    time.sleep(0.02)
    server.kill()
    thread.join(30)


def test_a_cati_interview_survives_a_killed_web_server(db_url: str, sessions: sessionmaker[Session],
                                                       tmp_path: Path) -> None:
    demo, port = _seed(sessions, tmp_path), free_port()
    env = _env(db_url, tmp_path, _web.SECRET)
    server = serve_web(env, tmp_path, port, "web1")
    browser = Browser(f"http://127.0.0.1:{port}")
    browser.login("interviewer", DEMO_PASSWORD)
    task = f"/console/task/{demo.partial_task_id}"
    assert browser.post("/console/next").headers["Location"].endswith(task)
    assert browser.post(task + "/start", {"mode": "cati"}).status_code == 302
    asked = [_question(browser.get(task).text)]
    for keys in FINISH[:3]:
        assert browser.post(task + "/keys", {"keys": keys}).status_code == 302
        asked.append(_question(browser.get(task).text))
    server.kill()

    given = {q: (int(k), "cati") for q, k in zip(asked, FINISH[:3], strict=False)}
    assert asked[0] == PARTIAL_RESUMES_AT and given.items() <= _answers(sessions, demo.partial_case_id).items()
    server = serve_web(env, tmp_path, port, "web2")
    assert _question(browser.get(task).text) == asked[-1]  # the same session, at its question

    _kill_during(server, lambda: browser.post(task + "/keys", {"keys": FINISH[3]}))
    server = serve_web(env, tmp_path, port, "web3")
    try:
        stored = asked[-1] in _answers(sessions, demo.partial_case_id)
        shown = _question(browser.get(task).text)
        assert (shown != asked[-1]) if stored else (shown == asked[-1])  # the answer and the step, or neither
        for keys in FINISH[4 if stored else 3:]:
            assert browser.post(task + "/keys", {"keys": keys}).status_code == 302
        assert browser.post(task + "/disposition", {"outcome": "complete"}).status_code == 302
    finally:
        server.kill()
    with sessions() as s:
        case = s.get(Case, demo.partial_case_id)
        interview = s.scalars(select(Interview).where(Interview.case_id == demo.partial_case_id)).one()
        assert case is not None and (case.final_disposition, interview.status) == ("1.1", InterviewStatus.COMPLETE)
    assert given.items() <= _answers(sessions, demo.partial_case_id).items()
    assert "Traceback" not in "".join(Path(tmp_path / f"web{n}.log").read_text() for n in (1, 2, 3))


def test_twilio_retries_after_a_restart_get_the_same_replies(db_url: str, sessions: sessionmaker[Session],
                                                             tmp_path: Path, dial: Dial, settings: Settings,
                                                             urls: WebhookUrls, twiml_schema: etree.XMLSchema) -> None:
    dialled, port = dial(), free_port()
    env = _env(db_url, tmp_path, "test-secret", MINYI_PUBLIC_URL=settings.public_url,
               TWILIO_ACCOUNT_SID=settings.twilio_account_sid, TWILIO_AUTH_TOKEN=settings.twilio_auth_token)
    server = serve_web(env, tmp_path, port, "web1")
    call = Call(HttpTransport(f"http://127.0.0.1:{port}"), settings, twiml_schema, dialled.attempt_id, SID)  # type: ignore[arg-type]
    call.answer(urls.start(dialled.attempt_id))
    for keys, expected in SCRIPT[:5]:
        call.press(keys)
        assert expected in " ".join(call.spoken())
    server.kill()
    before = _answers(sessions, dialled.case_id)
    server = serve_web(env, tmp_path, port, "web2")
    try:
        for url, form, reply in call.log[-3:]:  # Twilio never got these replies: it retries them
            again = call.post(url, form)
            assert again.status_code == 200 and again.data == reply
        assert _answers(sessions, dialled.case_id) == before
        for keys, expected in SCRIPT[5:8]:
            call.press(keys)
            assert expected in " ".join(call.spoken())
    finally:
        server.kill()
    with sessions() as s:
        replies = s.scalars(select(WebhookReply.seq).where(WebhookReply.call_sid == SID)).all()
    assert len(replies) == len(set(replies)) == 1 + 8  # the answer and eight key presses, each once
