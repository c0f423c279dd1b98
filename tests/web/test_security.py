"""CSRF, the login rate limit, cookie flags, recording paths, audited corrections, and numbers
kept out of logs."""

from __future__ import annotations

import logging
import subprocess
import time
import uuid
from dataclasses import replace

import pytest
import redis
from sqlalchemy import select
from web_support import Client, only_due, replay, session_cookie

from survey.config import DEVELOPMENT_SECRET_KEY, Settings
from survey.models import AuditLog, Recording
from web import create_app


def test_a_form_without_its_csrf_token_is_refused(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    assert c.post(f"/surveys/{web.demo.survey_id}/status", {"action": "pause"}, csrf=False).status_code == 400
    assert c.post(f"/surveys/{web.demo.survey_id}/status", {"action": "pause", "csrf_token": "forged"},
                  csrf=False).status_code == 400
    assert c.post(f"/surveys/{web.demo.survey_id}/status", {"action": "pause"}).status_code == 302
    anonymous = web.app.test_client()
    assert anonymous.post("/login", data={"username": "admin", "password": "minyi-demo-2026"}).status_code == 400


def test_failed_logins_are_rate_limited(web, client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert client.post("/login", {"username": "admin", "password": "not the password"}).status_code == 401
    assert client.post("/login", {"username": "admin", "password": "not the password"}).status_code == 429
    assert client.post("/login", {"username": "admin", "password": "minyi-demo-2026"}).status_code == 429


def test_successful_logins_do_not_use_up_the_limit(web, client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(7):
        assert client.login("official").status_code == 302
        client.post("/logout")


def _session_cookie(app) -> str:  # type: ignore[no-untyped-def]
    c = app.test_client()
    return ";".join(c.get("/lang/en").headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(("public_url", "secure"), [("http://127.0.0.1:8000", False), ("https://survey.example", True)])
def test_session_cookie_flags(web, public_url: str, secure: bool) -> None:  # type: ignore[no-untyped-def]
    cookie = _session_cookie(create_app(Settings(**{**web.settings.__dict__, "public_url": public_url}),
                                        web.sessions, web.clock))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


def test_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["../demo.db", "/etc/passwd", "demo/../../demo.db", "demo/missing.wav"])
def test_recordings_outside_the_directory_are_not_served(web, login, path: str) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        s.get(Recording, 1).path = path
    assert login("transcriber").get("/transcribe/1/audio").status_code == 404


def test_a_recording_is_served_for_the_player(web, login) -> None:  # type: ignore[no-untyped-def]
    response = login("transcriber").get("/transcribe/1/audio", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.mimetype in ("audio/wav", "audio/x-wav")
    assert len(response.get_data()) == 100


def test_answer_edits_and_disposition_changes_are_audited(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    case = web.demo.partial_case_id
    page = c.text(f"/cases/{case}")
    interview_id = int(page.split('name="interview_id" value="')[1].split('"')[0])
    assert c.post(f"/cases/{case}/answer", {"interview_id": interview_id, "question_id": "q_safety", "keys": "4",
                                            "reason": "回放录音核实"}).status_code == 302
    assert c.post(f"/cases/{case}/disposition", {"code": "2.11", "reason": "居民来电拒访"}).status_code == 302
    with web.sessions() as s:
        edit = s.scalars(select(AuditLog).where(AuditLog.action == "answer_edited")).one()
        assert edit.before["code"] == 2 and edit.after["code"] == 4 and edit.after["reason"] == "回放录音核实"
        assert edit.user_id == web.demo.users["supervisor"]
        change = s.scalars(select(AuditLog).where(AuditLog.action == "disposition_changed")).one()
        assert change.before == {"status": "follow_up", "final_disposition": None}
        assert change.after["final_disposition"] == "2.11"


def test_phone_numbers_never_reach_the_logs(web, login, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    only_due(web.sessions, web.demo.partial_task_id)
    c = login("interviewer")
    task = c.post("/console/next").headers["Location"]
    page = c.get(task).get_data(as_text=True)
    number = web.demo.numbers[web.demo.partial_case_id]
    assert number in page
    c.post(task + "/start", {"mode": "cati"})
    c.post(task + "/disposition", {"outcome": "partial"})
    c.post("/console/f2f", {"survey_id": web.demo.survey_id, "township": f"{web.demo.survey_id}:T02",
                            "number": "13907135678"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert number not in logged and number[3:] not in logged and "13907135678" not in logged
    with web.sessions() as s:
        for row in s.scalars(select(AuditLog)):
            assert number not in f"{row.before}{row.after}"


# -- the login limit behind a proxy and across workers ------------------------------------------


def _fail_login(app, address: str, username: str = "admin") -> int:  # type: ignore[no-untyped-def]
    """One wrong password from ``address`` (as the proxy reports it); returns the status code."""
    client = Client(app.test_client())
    response = client.post("/login", {"username": username, "password": "not the password"},
                           headers={"X-Forwarded-For": address})
    return int(response.status_code)


def test_behind_a_proxy_each_client_has_its_own_login_limit(web) -> None:  # type: ignore[no-untyped-def]
    app = create_app(replace(web.settings, trusted_proxies=1), web.sessions, web.clock)
    assert [_fail_login(app, "10.1.0.1") for _ in range(6)] == [401] * 5 + [429]
    assert _fail_login(app, "10.1.0.2") == 401  # another resident of the same proxy is not locked out


def test_without_a_trusted_proxy_a_forged_address_does_not_escape_the_limit(web) -> None:  # type: ignore[no-untyped-def]
    app = create_app(web.settings, web.sessions, web.clock)
    assert [_fail_login(app, f"10.2.0.{i}") for i in range(6)] == [401] * 5 + [429]


def _redis_url() -> str:
    url = "redis://127.0.0.1:6379"
    for attempt in range(2):
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
            return url
        except redis.ConnectionError:
            if attempt == 0:
                subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                                "--save", "", "--appendonly", "no"], check=False, capture_output=True, timeout=30)
                time.sleep(1)
    pytest.fail("Redis is not reachable on 127.0.0.1:6379 and could not be started")


def test_workers_sharing_redis_share_the_login_limit(web) -> None:  # type: ignore[no-untyped-def]
    settings = replace(web.settings, trusted_proxies=1, ratelimit_storage=_redis_url())
    workers = [create_app(settings, web.sessions, web.clock) for _ in range(2)]
    address = f"10.3.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # its own counter in the shared store
    name = f"admin-{uuid.uuid4().hex[:8]}"  # and its own account counter (the store outlives test runs)
    codes = [_fail_login(workers[i % 2], address, name) for i in range(6)]
    assert codes == [401] * 5 + [429]


# -- sessions signed with the development key ----------------------------------------------------


def test_a_session_signed_with_the_development_key_opens_nothing_on_a_real_key(web) -> None:  # type: ignore[no-untyped-def]
    exposed = create_app(replace(web.settings, secret_key=DEVELOPMENT_SECRET_KEY), web.sessions, web.clock)
    attacker = Client(exposed.test_client())
    assert attacker.login("admin").status_code == 302
    forged = session_cookie(attacker)
    assert replay(exposed, forged, "/admin/users").status_code == 200  # the public key opened the console
    response = replay(web.app, forged, "/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
