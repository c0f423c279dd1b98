"""Sessions end everywhere at logout, a new password or deactivation; logins answer unknown names
as slowly as wrong passwords, are limited per account as well as per address, and are audited."""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import replace

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from web_support import Client, replay, session_cookie

from office import users
from survey.models import AuditLog
from web import create_app


def _replay(web, cookie: str):  # type: ignore[no-untyped-def]
    return replay(web.app, cookie, "/dashboard/")


def _refused(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_kept_from_before_logout_opens_nothing(web, login) -> None:  # type: ignore[no-untyped-def]
    official = login("official")
    kept = session_cookie(official)
    other_device = login("official")
    assert _replay(web, kept).status_code == 200
    official.post("/logout")
    assert _refused(_replay(web, kept))
    assert _refused(other_device.get("/dashboard/"))  # logout ends every session of the account
    assert login("official").get("/dashboard/").status_code == 200  # and a new login works


def test_a_password_changed_by_the_admin_ends_the_sessions(web, login) -> None:  # type: ignore[no-untyped-def]
    kept = session_cookie(login("official"))
    admin = login("admin")
    assert admin.post(f"/admin/users/{web.demo.users['official']}",
                      {"role": "official", "township_scope": "", "unit_id": "0", "active": "y",
                       "password": "a brand new password"}).status_code == 302
    assert _refused(_replay(web, kept))
    assert admin.get("/admin/users").status_code == 200  # the admin's own session is another account's
    assert login("official", "a brand new password").get("/dashboard/").status_code == 200


def test_a_deactivated_account_loses_its_sessions_for_good(web, login) -> None:  # type: ignore[no-untyped-def]
    kept = session_cookie(login("official"))
    admin = login("admin")
    url = f"/admin/users/{web.demo.users['official']}"
    admin.post(url, {"role": "official", "township_scope": "", "unit_id": "0"})  # unticked: inactive
    assert _refused(_replay(web, kept))
    admin.post(url, {"role": "official", "township_scope": "", "unit_id": "0", "active": "y"})
    assert _refused(_replay(web, kept))  # reactivation does not bring old sessions back


def test_a_session_id_of_another_form_is_turned_away(web) -> None:  # type: ignore[no-untyped-def]
    with web.app.test_request_context():
        from web.access import _load

        assert _load(str(web.demo.users["admin"])) is None  # the form before session versions
        assert _load("x.1") is None and _load("1.x") is None


def _login_time(web, username: str, tries: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(tries):
        client = Client(web.app.test_client())
        client.get("/login")
        start = time.perf_counter()
        assert client.post("/login", {"username": username, "password": "not the password"}).status_code == 401
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_an_unknown_name_is_answered_as_slowly_as_a_wrong_password(web) -> None:  # type: ignore[no-untyped-def]
    """With a real argon2 cost (a light one, ~20 ms), so the hash dominates the answer's time."""
    web.app.config.update(LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="100 per minute")
    cheap = users._hasher
    users._hasher = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    try:
        with web.sessions.begin() as s:
            users.set_password(s, s.get(users.User, web.demo.users["official"]), "a password to time",
                               web.clock, actor_id=None)
        _login_time(web, "nobody-at-all", 1)  # warm up: the unknowable hash is made once per hasher
        known, unknown = _login_time(web, "official", 5), _login_time(web, "nobody-at-all", 5)
    finally:
        users._hasher = cheap
    assert 0.5 < unknown / known < 2, (known, unknown)


def _fail(app, username: str, address: str) -> int:  # type: ignore[no-untyped-def]
    client = Client(app.test_client())
    return int(client.post("/login", {"username": username, "password": "not the password"},
                           headers={"X-Forwarded-For": address}).status_code)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_one_account_is_limited_whatever_the_address(web, storage: str) -> None:  # type: ignore[no-untyped-def]
    from test_security import _redis_url

    settings = replace(web.settings, trusted_proxies=1,
                       ratelimit_storage=_redis_url() if storage == "redis" else "memory://")
    workers = [create_app(settings, web.sessions, web.clock) for _ in range(2 if storage == "redis" else 1)]
    for app in workers:
        app.config["LOGIN_ACCOUNT_RATE_LIMIT"] = "3 per hour"
    run = f"-{uuid.uuid4().hex[:8]}" if storage == "redis" else ""  # counters of its own: the store outlives runs
    name = "admin" + run
    codes = [_fail(workers[i % len(workers)], name.upper() if i else name, f"10.4.0.{i}") for i in range(4)]
    assert codes == [401] * 3 + [429]
    assert _fail(workers[0], "official" + run, "10.4.1.1") == 401  # other accounts are not locked out


def _actions(web, *actions: str) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    with web.sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action.in_(actions)).order_by(AuditLog.id)))


def test_logins_failures_and_logouts_are_audited(web, login, client) -> None:  # type: ignore[no-untyped-def]
    official = web.demo.users["official"]
    assert client.post("/login", {"username": "official", "password": "not the password"}).status_code == 401
    assert client.post("/login", {"username": "nobody", "password": "not the password"}).status_code == 401
    login("official").post("/logout")
    rows = _actions(web, "login", "login_failed", "logout")
    assert [(r.action, r.entity_id, r.user_id) for r in rows] == [
        ("login_failed", str(official), None), ("login_failed", "unknown", None),
        ("login", str(official), official), ("logout", str(official), official)]
    assert all(r.after == {"address": "127.0.0.1"} for r in rows)
    assert "nobody" not in str([r.after for r in rows])


def test_downloads_are_audited_and_never_cached(web, login) -> None:  # type: ignore[no-untyped-def]
    official, transcriber = login("official"), login("transcriber")
    survey = web.demo.survey_id
    downloads = [official.get(f"/dashboard/{survey}/export.csv"), official.get(f"/dashboard/{survey}/bulletin-zh.pdf"),
                 transcriber.get("/transcribe/1/audio"), transcriber.get("/transcribe/1/audio",
                                                                          headers={"Range": "bytes=100-199"})]
    assert [r.status_code for r in downloads] == [200, 200, 200, 206]
    assert all(r.headers["Cache-Control"] == "no-store" for r in downloads)
    rows = _actions(web, "download")
    assert [(r.entity, r.entity_id, r.user_id) for r in rows] == [
        ("export", str(survey), web.demo.users["official"]), ("bulletin", str(survey), web.demo.users["official"]),
        ("recording", "1", web.demo.users["transcriber"])]  # a player's later byte range is not a new download
    assert rows[0].after["format"] == "csv"


@pytest.mark.parametrize(("role", "url"), [("official", "/dashboard/"), ("admin", "/admin/users"),
                                           ("admin", "/admin/audit"), ("supervisor", "/"),
                                           ("transcriber", "/transcribe/")])
def test_pages_behind_login_are_never_cached(login, role: str, url: str) -> None:  # type: ignore[no-untyped-def]
    assert login(role).get(url).headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client) -> None:  # type: ignore[no-untyped-def]
    page = client.text("/login")
    css = page.split('href="/static/')[1].split('"')[0]
    assert client.get(f"/static/{css}").headers.get("Cache-Control") != "no-store"


def test_a_stolen_cookie_is_not_opened_by_naming_the_owners_address(web, login) -> None:  # type: ignore[no-untyped-def]
    """Sessions are bound to the client's address and user agent; the address is the one the app
    trusts, not an X-Forwarded-For any client may send (no proxy is configured here)."""
    owner = {"REMOTE_ADDR": "203.0.113.7"}
    victim = Client(web.app.test_client())
    victim.client.environ_base.update(owner)
    assert victim.login("official").status_code == 302
    assert victim.get("/dashboard/").status_code == 200
    thief = web.app.test_client()
    thief.environ_base.update(REMOTE_ADDR="198.51.100.9")
    thief.set_cookie("session", session_cookie(victim))
    assert _refused(thief.get("/dashboard/", headers={"X-Forwarded-For": "203.0.113.7"}))
