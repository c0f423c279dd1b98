"""Fixtures for the scenario suite: the bench (one database, one clock) and a driver per channel,
built on the harnesses of each channel's own tests."""
# ruff: noqa: E402

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# The project first (``tests/web`` would otherwise shadow the ``web`` package), then the harnesses.
sys.path.insert(0, str(TESTS.parent))
sys.path.extend(str(TESTS / folder) for folder in ("asterisk", "twilio", "web"))

import pytest
from argon2 import PasswordHasher
from ari_fake import AriSpec, spec_dir
from asterisk_world import SCALE
from scenario_bench import SECRET, Bench
from scenario_drivers import (
    AsteriskDriver,
    ConsoleDriver,
    RedeliveringAsterisk,
    SimulatedDriver,
    TwilioDriver,
)
from scenario_model import START
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web_support import Client

from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing
from office import users
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.vocabulary import Role
from web import create_app
from web.demo_data import DEMO_PASSWORD


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def bench(engine: Engine, sessions: sessionmaker[Session], clock: VirtualClock) -> Bench:
    return Bench(engine, sessions, clock)


@pytest.fixture
def simulated_driver(bench: Bench) -> SimulatedDriver:
    return SimulatedDriver(bench)


@pytest.fixture
def twilio_driver(bench: Bench, tmp_path: Path) -> TwilioDriver:
    settings = Settings(public_url="https://survey.example.gov.cn", secret_key=SECRET,
                        twilio_account_sid="AC" + "0123456789abcdef" * 2, twilio_auth_token="test-auth-token",
                        twilio_from="+15005550001", prompts_dir=str(tmp_path / "prompts"))
    return TwilioDriver(bench, settings)


@pytest.fixture(scope="session")
def ari_spec() -> AriSpec:
    found = spec_dir()
    if found is None:
        pytest.fail("the ARI description of Asterisk 22.10.1 is missing: set MINYI_ARI_SPEC")
    return AriSpec.load(found)


@pytest.fixture
def asterisk_driver(bench: Bench, ari_spec: AriSpec, tmp_path: Path) -> Iterator[AsteriskDriver]:
    fake = RedeliveringAsterisk(ari_spec, time_scale=SCALE).start()
    settings = Settings(ari_url=fake.url, ari_username=fake.username, ari_password=fake.password, ari_app=fake.app,
                        asterisk_endpoint="PJSIP/{number}@trunk", recordings_dir=str(tmp_path / "recordings"))
    options = AsteriskOptions.from_settings(settings, timing=Timing(scale=SCALE, backoff_initial_s=0.05,
                                                                    backoff_max_s=0.2))
    channel = AsteriskChannel(settings, bench.sessions, bench.clock, options=options).start()
    try:
        yield AsteriskDriver(bench, fake, channel)
    finally:
        channel.close()
        fake.stop()
    assert fake.violations == [], "\n".join(fake.violations)
    assert fake.traps == []


@pytest.fixture
def console_driver(bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConsoleDriver:
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with session_scope(bench.sessions) as s:
        users.create_user(s, "interviewer", DEMO_PASSWORD, Role.INTERVIEWER, bench.clock)
    settings = Settings(database_url=bench.engine.url.render_as_string(hide_password=False), secret_key=SECRET,
                        public_url="http://127.0.0.1:8000", prompts_dir=str(tmp_path / "prompts"))
    app = create_app(settings, bench.sessions, bench.clock, analyse=_no_analysis)
    client = Client(app.test_client())
    assert client.login("interviewer").status_code == 302
    return ConsoleDriver(bench, client)


def _no_analysis(*_args: object) -> object:
    raise AssertionError("the scenarios show no dashboard")
