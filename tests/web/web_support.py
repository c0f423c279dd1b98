"""Names the web tests share: the test secret and start time, the app bundle, and a CSRF-aware client.

A module of its own rather than part of ``conftest.py``: ``from conftest import ...`` finds whichever
conftest pytest loaded last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from jobs.runner import JobContext, run_next
from jobs.sample_import import HANDLERS
from survey.clock import VirtualClock
from survey.config import Settings
from survey.models import FollowUpTask
from survey.vocabulary import TaskStatus
from web.demo_data import DEMO_PASSWORD, Demo

SECRET = "test-secret-key-for-minyi-web"
START = datetime(2026, 11, 2, 10, 30)  # Monday 18:30 in Asia/Shanghai, inside the calling window


@dataclass
class WebApp:
    app: Flask
    sessions: sessionmaker[Session]
    clock: VirtualClock
    demo: Demo
    settings: Settings


CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


class Client:
    """A test client that knows the CSRF token of its session."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kwargs: object) -> TestResponse:
        response = self.client.get(url, **kwargs)  # type: ignore[arg-type]
        found = CSRF.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, url: str, data: dict[str, object] | None = None, *, csrf: bool = True,
             **kwargs: object) -> TestResponse:
        if csrf and not self.token:
            self.get("/login")
        payload = {**(data or {}), **({"csrf_token": self.token} if csrf else {})}
        return self.client.post(url, data=payload, **kwargs)  # type: ignore[arg-type]

    def login(self, username: str, password: str = DEMO_PASSWORD) -> TestResponse:
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        self.get("/", follow_redirects=True)  # a new session after login: pick up its CSRF token
        return response

    def text(self, url: str) -> str:
        return self.get(url).get_data(as_text=True)


def only_due(sessions: sessionmaker[Session], *keep: int) -> None:
    """Leave only the tasks ``keep`` open, so that "next case" takes them."""
    with sessions.begin() as s:
        s.execute(update(FollowUpTask).where(FollowUpTask.id.not_in(keep), FollowUpTask.status == TaskStatus.OPEN)
                  .values(status=TaskStatus.CANCELLED))


def session_cookie(client: Client) -> str:
    """The signed session cookie ``client`` holds (to replay it from another client)."""
    cookie = client.client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str, url: str) -> TestResponse:
    """``url`` fetched by a fresh client that holds only ``cookie``."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get(url)


def run_jobs(web) -> int:  # type: ignore[no-untyped-def]
    """Run every queued background job as ``minyi worker --once`` would; how many ran."""
    context = JobContext(web.sessions, web.clock, web.app.extensions["minyi"].vault)
    ran = 0
    while run_next(context, HANDLERS, "test-worker"):
        ran += 1
    return ran
