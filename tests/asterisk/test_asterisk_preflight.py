"""Before a round the channel checks that ARI answers and the Stasis app is registered; during
the round, Asterisk going away stops the dialer with the cases given back."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from ari_fake import FakeAsterisk
from asterisk_world import SCALE, SQLITE_ONLY, World
from cli_support import run
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.frames import Frame, FrameRow
from dialer.protocol import ChannelNotReady
from dialer.sample import import_sample
from dialer.worker import Stop, WorkerOptions, run_worker
from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing
from ivr.channels.asterisk.options import check_endpoint, endpoint_for
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import CallAttempt, Case, Survey

FAST = Timing(scale=SCALE, connect_wait_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.2)


def _channel(settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock, *,
             serve: bool = True) -> AsteriskChannel:
    return AsteriskChannel(settings, sessions, clock, serve=serve,
                           options=AsteriskOptions.from_settings(settings, timing=FAST))


@SQLITE_ONLY
def test_preflight_passes_once_the_app_is_registered(settings: Settings, sessions: sessionmaker[Session],
                                                     clock: VirtualClock, world: World, fake: FakeAsterisk) -> None:
    channel = _channel(settings, sessions, clock)
    try:
        channel.preflight(world.survey_id)
        assert fake.connected
    finally:
        channel.close()


@SQLITE_ONLY
@pytest.mark.parametrize(("change", "message"), [
    (lambda s, _f: replace(s, ari_password="wrong"), "401 Authentication required"),
    (lambda s, f: replace(s, ari_url=f"http://127.0.0.1:{_closed_port()}"), "ConnectionRefusedError"),
], ids=["bad password", "no Asterisk"])
def test_preflight_refuses_an_asterisk_it_cannot_use(settings: Settings, sessions: sessionmaker[Session],
                                                     clock: VirtualClock, world: World, fake: FakeAsterisk,
                                                     change: Callable[[Settings, FakeAsterisk], Settings],
                                                     message: str) -> None:
    channel = _channel(change(settings, fake), sessions, clock)
    with pytest.raises(ChannelNotReady, match=f"^Asterisk cannot carry the calls: .*{message}"):
        channel.preflight(world.survey_id)
    assert channel._portal is None  # noqa: SLF001 - closed again


@SQLITE_ONLY
def test_preflight_without_serving_needs_a_minyi_ari_process(settings: Settings, sessions: sessionmaker[Session],
                                                             clock: VirtualClock, world: World) -> None:
    with pytest.raises(ChannelNotReady, match="no process serves the Stasis app 'minyi': start `minyi ari`"):
        _channel(settings, sessions, clock, serve=False).preflight(world.survey_id)


@SQLITE_ONLY
def test_asterisk_going_away_mid_round_stops_the_dialer(settings: Settings, sessions: sessionmaker[Session],
                                                        clock: VirtualClock, world: World, fake: FakeAsterisk) -> None:
    with session_scope(sessions) as s:
        survey = s.get(Survey, world.survey_id)
        assert survey is not None
        survey.calling_windows = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}
        rows = tuple(FrameRow(i + 2, {"number": f"+86138{i:08d}", "township": "T01"}) for i in range(6))
        import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows), world.vault,
                      clock.now())
    channel = _channel(settings, sessions, clock)
    try:
        channel.preflight(world.survey_id)
        fake.drop_websocket(refuse_s=30)  # Asterisk stops after the check
        options = WorkerOptions(survey="S1", owner="w1", until=clock.now() + timedelta(hours=1),
                                max_channel_failures=2, lines=6)
        report = run_worker(sessions, channel, clock, world.vault, options)
    finally:
        channel.close()
    assert report.stop_reason == Stop.CHANNEL_FAILING
    assert report.channel_error is not None and "AriUnavailable" in report.channel_error
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 0
        assert s.scalar(select(func.count()).select_from(Case).where(
            Case.attempts == 0, Case.lease_owner.is_(None), Case.final_disposition.is_(None))) == 6


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_serve_is_refused_for_other_channels() -> None:
    result = run("dial", "--survey", "S1", "--channel", "simulated", "--no-serve")
    assert result.exit_code == 2
    assert "--serve/--no-serve is for --channel asterisk" in result.output


@pytest.mark.parametrize(("template", "dialled"), [
    ("PJSIP/{number}@trunk", "PJSIP/+8613800138000@trunk"),
    ("PJSIP/{digits}@trunk", "PJSIP/8613800138000@trunk"),
    ("Local/{digits}@outbound", "Local/8613800138000@outbound"),
])
def test_the_endpoint_template_fills_in_the_number(template: str, dialled: str) -> None:
    assert endpoint_for(check_endpoint(template), "+8613800138000") == dialled


@pytest.mark.parametrize(("template", "message"), [
    ("PJSIP/{nummer}@trunk", r"unknown field \{nummer\}; the fields are \{number\}"),
    ("PJSIP/{number@trunk", "expected '}'"),
    ("{number}", r"not a channel, Technology/resource"),
])
def test_a_bad_endpoint_template_is_refused_at_start(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^ASTERISK_ENDPOINT '.*': {message}"):
        AsteriskOptions.from_settings(Settings(asterisk_endpoint=template))


def test_minyi_ari_refuses_a_bad_endpoint_template(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTERISK_ENDPOINT", "PJSIP/{phone}@trunk")
    result = run("ari")
    assert result.exit_code == 2
    assert "unknown field {phone}; the fields are {number}" in result.output
