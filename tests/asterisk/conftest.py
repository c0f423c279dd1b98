"""Fixtures for the Asterisk channel: the ARI description of Asterisk 22.10.1 (a local copy, no
network), the fake Asterisk built on it, and a survey whose cases are ready to be called."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ari_fake import AriSpec, FakeAsterisk, spec_dir
from asterisk_world import SCALE, World
from sqlalchemy.orm import Session, sessionmaker

from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing
from survey.clock import VirtualClock
from survey.config import Settings


@pytest.fixture(scope="session")
def ari_spec() -> AriSpec:
    found = spec_dir()
    if found is None:
        pytest.fail("the ARI description of Asterisk 22.10.1 is missing: set MINYI_ARI_SPEC to a directory "
                    "holding resources.json and api-docs/")
    return AriSpec.load(found)


@pytest.fixture
def fake(ari_spec: AriSpec) -> Iterator[FakeAsterisk]:
    """A fake Asterisk; the test fails if the project sent it anything the api-docs do not allow,
    if it emitted an event events.json does not allow, or if the project fell into a known trap."""
    server = FakeAsterisk(ari_spec, time_scale=SCALE).start()
    yield server
    server.stop()
    assert server.violations == [], "\n".join(server.violations)
    assert server.traps == []
    assert not server.api_key_seen, "credentials were sent in a URL"


@pytest.fixture
def settings(fake: FakeAsterisk, tmp_path: Path) -> Settings:
    return Settings(ari_url=fake.url, ari_username=fake.username, ari_password=fake.password, ari_app=fake.app,
                    asterisk_endpoint="PJSIP/{number}@trunk", recordings_dir=str(tmp_path / "recordings"))


@pytest.fixture
def world(sessions: sessionmaker[Session], clock: VirtualClock) -> World:
    return World(sessions, clock)


@pytest.fixture
def open_channel(settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock
                 ) -> Iterator[Callable[..., AsteriskChannel]]:
    """``open_channel(**option overrides)``: a started AsteriskChannel on the fake, closed after
    the test (hanging up whatever is still running)."""
    opened: list[AsteriskChannel] = []

    def make(**overrides: object) -> AsteriskChannel:
        overrides.setdefault("timing", Timing(scale=SCALE, backoff_initial_s=0.05, backoff_max_s=0.2))
        options = AsteriskOptions.from_settings(settings, **overrides)
        channel = AsteriskChannel(settings, sessions, clock, options=options).start()
        opened.append(channel)
        return channel

    yield make
    for channel in opened:
        channel.close()
