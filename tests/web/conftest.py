"""Fixtures for the web app: a demo county seeded once per test session into a SQLite file that
every test gets a fresh copy of, an app on that copy, and a client that logs in and posts forms
with their CSRF token."""
# ruff: noqa: E402

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# ``tests/`` is on sys.path (pytest's prepend import mode) and ``tests/web`` would shadow the
# ``web`` package as a namespace package: put the project root first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pytest
from argon2 import PasswordHasher
from dashboard_result import sample_analysis
from web_support import SECRET, START, Client, WebApp

from office import users
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import make_engine, session_factory, upgrade
from web import create_app
from web.demo_data import DEMO_PASSWORD, Demo, seed


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Argon2 with minimal cost: still argon2id hashes, without 0.1-0.5 s per login or account."""
    strong = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users._hasher = strong


@dataclass(frozen=True)
class Seeded:
    db_file: Path
    recordings: Path
    demo: Demo


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    folder = tmp_path_factory.mktemp("demo")
    db_file, recordings = folder / "demo.db", folder / "recordings"
    engine = make_engine(f"sqlite:///{db_file}")
    upgrade(engine)
    with session_factory(engine)() as session:
        demo = seed(session, VirtualClock(START), secret_key=SECRET, recordings_dir=recordings)
        session.commit()
    engine.dispose()
    return Seeded(db_file, recordings, demo)


@pytest.fixture
def web(seeded: Seeded, tmp_path: Path) -> Iterator[WebApp]:
    db_file = tmp_path / "web.db"
    shutil.copy(seeded.db_file, db_file)
    settings = Settings(database_url=f"sqlite:///{db_file}", secret_key=SECRET, recordings_dir=str(seeded.recordings),
                        public_url="http://127.0.0.1:8000", twilio_account_sid="AC" + "0" * 32,
                        twilio_auth_token="test-auth-token", prompts_dir=str(tmp_path / "prompts"))
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    clock = VirtualClock(START)
    app = create_app(settings, sessions, clock, analyse=lambda session, survey: sample_analysis(survey))
    yield WebApp(app, sessions, clock, seeded.demo, settings)
    engine.dispose()


@pytest.fixture
def client(web: WebApp) -> Client:
    return Client(web.app.test_client())


@pytest.fixture
def login(web: WebApp):  # type: ignore[no-untyped-def]
    """``login("supervisor")`` → a logged-in :class:`Client` (one per call)."""

    def make(username: str, password: str = DEMO_PASSWORD) -> Client:
        c = Client(web.app.test_client())
        response = c.login(username, password)
        assert response.status_code == 302, f"login as {username} failed"
        return c

    return make
