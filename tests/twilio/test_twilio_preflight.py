"""Before a round the channel asks Twilio for the account and its caller IDs; during the round,
Twilio refusing call after call stops the dialer with the cases given back."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests
from fake_twilio import FakeTwilio
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.frames import Frame, FrameRow
from dialer.protocol import ChannelNotReady
from dialer.sample import import_sample
from dialer.worker import Stop, WorkerOptions, run_worker
from ivr.channels.twilio import TwilioChannel
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import CallAttempt, Case
from survey.phones import PhoneVault
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import CaseStatus

VAULT = PhoneVault("test-secret")
OPEN = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}


def _survey(sessions: sessionmaker[Session], clock: VirtualClock, cases: int = 0, caller_ids: tuple[str, ...] = ()
            ) -> int:
    pacing = {"trunks": [{"name": "main", "lines": 10, "cps": 100, "caller_ids": list(caller_ids)}]}
    with session_scope(sessions) as s:
        survey = create_survey(s, "S1", load_bundled(), clock, period="2026-11", quota=100,
                               strata=[StratumSpec("T01", "城关镇", "Chengguan")],
                               settings={"calling_windows": OPEN, "pacing": pacing})
        rows = tuple(FrameRow(i + 2, {"number": f"+86138{i:08d}", "township": "T01"}) for i in range(cases))
        import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows), VAULT,
                      clock.now())
        return survey.id


def _channel(settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock,
             fake: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(settings, sessions, clock, http_client=fake, rng=random.Random(4))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_preflight_fetches_the_account_and_its_caller_ids(settings: Settings, sessions: sessionmaker[Session],
                                                          clock: VirtualClock, fake: FakeTwilio) -> None:
    survey_id = _survey(sessions, clock, caller_ids=("+15005550006",))
    fake.verified.add("+15005550006")
    _channel(settings, sessions, clock, fake).preflight(survey_id)
    assert [(s.method, s.path.rsplit("/", 1)[1]) for s in fake.sent] == [
        ("GET", f"{settings.twilio_account_sid}.json"), ("GET", "IncomingPhoneNumbers.json"),
        ("GET", "IncomingPhoneNumbers.json"), ("GET", "OutgoingCallerIds.json")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("prepare", "message"), [
    (lambda f: f.fail_next(401, 20003, "Authenticate"),
     "Twilio refused the channel's check: Twilio error 20003: Unable to fetch record: Authenticate (check TWILIO_ACCOUNT_SID and "
     "TWILIO_AUTH_TOKEN)"),
    (lambda f: f.numbers.clear(),
     "caller ID +15005550001 is neither a number of the Twilio account nor one of its verified caller IDs"),
    (lambda f: setattr(f, "account_status", "suspended"), "the Twilio account is suspended, not active"),
    (lambda f: f.break_next(requests.ConnectionError("connection refused")),
     "no answer from the Twilio API: connection refused"),
], ids=["401", "unknown caller ID", "suspended", "unreachable"])
def test_preflight_refuses_what_twilio_would_not_carry(settings: Settings, sessions: sessionmaker[Session],
                                                       clock: VirtualClock, fake: FakeTwilio, prepare: Callable[[FakeTwilio], object],
                                                       message: str) -> None:
    survey_id = _survey(sessions, clock)
    prepare(fake)
    with pytest.raises(ChannelNotReady) as refused:
        _channel(settings, sessions, clock, fake).preflight(survey_id)
    assert str(refused.value) == message


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_twilio_refusing_every_call_mid_round_stops_the_dialer(settings: Settings, sessions: sessionmaker[Session],
                                                               clock: VirtualClock, fake: FakeTwilio) -> None:
    _survey(sessions, clock, cases=8)
    fake.pass_next(2)
    fake.fail_next(401, 20003, "Authenticate", times=50)
    options = WorkerOptions(survey="S1", owner="w1", until=clock.now() + timedelta(hours=1), max_channel_failures=3)
    report = run_worker(sessions, _channel(settings, sessions, clock, fake), clock, VAULT, options)
    assert report.stop_reason == Stop.CHANNEL_FAILING
    assert report.channel_error == "Twilio error 20003: Unable to create record: Authenticate"
    assert len(fake.calls_created()) == 5 and report.withdrawn == 6
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 2  # the two calls Twilio created
        back = s.scalars(select(Case).where(Case.attempts == 0)).all()
        assert len(back) == 6 and {c.status for c in back} <= {CaseStatus.NEW, CaseStatus.SCHEDULED}
        assert all(c.lease_owner is None and c.final_disposition is None for c in back)
