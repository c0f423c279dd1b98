"""Placing calls: every REST request checked against Twilio's OpenAPI description, pacing to the
account's CPS on the clock, back-off on 429, and Twilio's refusals as call results."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from fake_twilio import FakeTwilio
from openapi_core import OpenAPI
from openapi_core.validation.request.exceptions import RequestValidationError
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Dial

from dialer.pacer import PUSHBACK_CAUSES
from dialer.protocol import CallRequest
from ivr.channels.twilio import TwilioChannel
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import CallAttempt
from survey.vocabulary import AttemptStatus, CallStatus


def _request(attempt_id: int = 7, **changes: object) -> CallRequest:
    request = CallRequest(attempt_id=attempt_id, case_id=3, interview_id=None, number="+8613800138000",
                          caller_id="+15005550006", language=None, ring_timeout_s=25)
    return replace(request, **changes)  # type: ignore[arg-type]


@pytest.fixture
def channel(settings: Settings, no_database: sessionmaker[Session], clock: VirtualClock,
            fake: FakeTwilio) -> TwilioChannel:
    """Placing a call reads and writes nothing: there is no database behind this channel."""
    return TwilioChannel(settings, no_database, clock, http_client=fake, rng=random.Random(4))


def test_a_call_is_created_with_the_interview_webhooks_and_amd(channel: TwilioChannel, fake: FakeTwilio,
                                                               settings: Settings) -> None:
    assert channel.place_call(_request(attempt_id=42)) is None
    (sent,) = fake.sent
    assert sent.method == "POST" and sent.path == f"/2010-04-01/Accounts/{settings.twilio_account_sid}/Calls.json"
    assert sent.one("To") == "+8613800138000" and sent.one("From") == "+15005550006"  # the dialer's caller ID
    base = f"{settings.public_url}/twilio/voice"
    assert sent.one("Url") == f"{base}/start?attempt=42" and sent.one("Method") == "POST"
    assert sent.one("StatusCallback") == f"{base}/status?attempt=42"
    assert sent.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert sent.one("Timeout") == "25"
    assert (sent.one("MachineDetection"), sent.one("AsyncAmd")) == ("Enable", "true")
    assert sent.one("AsyncAmdStatusCallback") == f"{base}/amd?attempt=42"
    assert "Record" not in sent.form
    assert all(v.isascii() for values in sent.form.values() for v in values)


def test_without_a_caller_id_from_the_dialer_calls_come_from_twilio_from(channel: TwilioChannel, fake: FakeTwilio,
                                                                         settings: Settings) -> None:
    channel.place_call(_request(caller_id=""))
    assert fake.sent[0].one("From") == settings.twilio_from == "+15005550001"


def test_whole_calls_are_recorded_on_request(settings: Settings, no_database: sessionmaker[Session],
                                             clock: VirtualClock, fake: FakeTwilio) -> None:
    channel = TwilioChannel(settings, no_database, clock, http_client=fake, record_calls=True)
    channel.place_call(_request(attempt_id=5))
    (sent,) = fake.sent
    assert sent.one("Record") == "true"
    assert sent.one("RecordingStatusCallback") == f"{settings.public_url}/twilio/voice/recording?attempt=5&whole_call=1"


def test_the_fake_rejects_what_twilio_would(openapi: OpenAPI, clock: VirtualClock, settings: Settings,
                                            no_database: sessionmaker[Session]) -> None:
    """The check is real: a request Twilio's description forbids fails."""
    fake = FakeTwilio(openapi, clock)
    bad_account = replace(settings, twilio_account_sid="AC-not-a-sid")
    channel = TwilioChannel(bad_account, no_database, clock, http_client=fake)
    with pytest.raises(RequestValidationError):
        channel.place_call(_request())


def test_calls_are_paced_to_the_accounts_cps(settings: Settings, no_database: sessionmaker[Session],
                                             clock: VirtualClock, fake: FakeTwilio) -> None:
    channel = TwilioChannel(settings, no_database, clock, http_client=fake, cps=2.0)
    start = clock.now()
    for attempt_id in range(1, 6):
        channel.place_call(_request(attempt_id))
    offsets = [(s.at - start).total_seconds() for s in fake.sent]
    assert offsets == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    clock.advance(timedelta(seconds=10))  # idle time saves up one call, no more
    mark = clock.now()
    channel.place_call(_request(8))
    channel.place_call(_request(9))
    assert [(s.at - mark).total_seconds() for s in fake.sent[-2:]] == pytest.approx([0.0, 0.5])


def test_a_rate_limited_create_is_retried_with_back_off(channel: TwilioChannel, fake: FakeTwilio,
                                                        clock: VirtualClock) -> None:
    fake.fail_next(429, 20429, "Too many requests", times=3)
    start = clock.now()
    assert channel.place_call(_request()) is None
    assert len(fake.calls_created()) == 4  # each try checked against the API description
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(fake.sent, fake.sent[1:], strict=False)]
    for n, gap in enumerate(gaps):
        assert 2**n / 2 <= gap <= max(1.0, 2**n), gaps  # base 1 s, doubling, with jitter
    assert clock.now() - start < timedelta(seconds=8)


def test_a_rate_limit_that_does_not_lift_fails_the_attempt(channel: TwilioChannel, fake: FakeTwilio) -> None:
    fake.fail_next(429, 20429, "Too many requests", times=10)
    result = channel.place_call(_request())
    assert result is not None and result.status == CallStatus.FAILED
    assert result.error == "Twilio error 20429: Unable to create record: Too many requests"
    assert result.hangup_cause in PUSHBACK_CAUSES  # the dialer's pacer slows down
    assert len(fake.sent) == 6  # the first try and five retries


@pytest.mark.parametrize(("status", "code", "message", "expected", "cause"), [
    (400, 21211, "Invalid 'To' Phone Number: +86138001", CallStatus.NON_WORKING, None),
    (400, 21214, "'To' phone number cannot be reached", CallStatus.NON_WORKING, None),
    (400, 21217, "Phone number does not appear to be valid", CallStatus.NON_WORKING, None),
    (422, 21215, "Account not authorized to call +86138. Enable geo permissions", CallStatus.FAILED, None),
    (401, 20003, "Authenticate", CallStatus.FAILED, None),
    (503, 20503, "Service Unavailable", CallStatus.FAILED, "503"),
])
def test_a_refused_call_is_reported_at_once(channel: TwilioChannel, fake: FakeTwilio, status: int, code: int,
                                            message: str, expected: str, cause: str | None) -> None:
    fake.fail_next(status, code, message)
    result = channel.place_call(_request())
    assert result is not None and result.status == expected
    assert result.hangup_cause == cause and (cause is None or cause in PUSHBACK_CAUSES)
    assert result.error == f"Twilio error {code}: Unable to create record: {message}"
    assert len(fake.sent) == 1  # not retried
    assert result.started_at <= result.ended_at


def test_a_problem_document_error_is_understood_too(channel: TwilioChannel, fake: FakeTwilio) -> None:
    fake.fail_next(400, 21211, "Invalid 'To' Phone Number", problem=True)
    result = channel.place_call(_request())
    assert result is not None and result.status == CallStatus.NON_WORKING
    assert result.error == "Twilio error 21211: Invalid 'To' Phone Number"


def test_a_network_failure_leaves_the_outcome_unknown(channel: TwilioChannel, fake: FakeTwilio) -> None:
    fake.break_next(requests.ConnectionError("connection reset by peer"))
    result = channel.place_call(_request())
    assert result is not None and result.status == CallStatus.UNKNOWN
    assert "connection reset by peer" in (result.error or "")


def test_a_twilio_compatible_provider_gets_the_same_requests(settings: Settings, openapi: OpenAPI,
                                                             no_database: sessionmaker[Session],
                                                             clock: VirtualClock) -> None:
    provider = "http://127.0.0.1:8089/twilio-compat"
    fake = FakeTwilio(openapi, clock, base_url=provider)
    channel = TwilioChannel(replace(settings, twilio_api_base_url=provider + "/"), no_database, clock,
                            http_client=fake)
    assert channel.place_call(_request()) is None
    assert len(fake.sent) == 1


@pytest.mark.parametrize(("changes", "message"), [
    ({"twilio_from": ""}, "TWILIO_FROM"),
    ({"twilio_auth_token": ""}, "TWILIO_AUTH_TOKEN"),
    ({"twilio_api_base_url": "api.example.com"}, "TWILIO_API_BASE_URL"),
    ({"public_url": "/relative"}, "MINYI_PUBLIC_URL"),
    ({"public_url": "https://调查.example.cn"}, "ASCII"),
    ({"twilio_cps": 0.0}, "calls per second"),
])
def test_bad_configuration_is_refused_with_the_setting_named(settings: Settings, no_database: sessionmaker[Session],
                                                             clock: VirtualClock, fake: FakeTwilio,
                                                             changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TwilioChannel(replace(settings, **changes), no_database, clock, http_client=fake)  # type: ignore[arg-type]


def test_a_bad_ring_timeout_is_refused(channel: TwilioChannel, fake: FakeTwilio) -> None:
    with pytest.raises(ValueError, match="ring timeout"):
        channel.place_call(_request(ring_timeout_s=0))
    assert fake.sent == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_lines_in_use_are_the_calls_not_yet_ended(settings: Settings, sessions: sessionmaker[Session],
                                                  clock: VirtualClock, fake: FakeTwilio, dial: Dial) -> None:
    channel = TwilioChannel(settings, sessions, clock, http_client=fake)
    attempts = [dial(f"+861380013800{i}").attempt_id for i in range(4)]
    assert channel.lines_in_use() == 4
    with session_scope(sessions) as s:
        for attempt_id, status in zip(attempts, (AttemptStatus.RINGING, AttemptStatus.COMPLETED, AttemptStatus.BUSY),
                                      strict=False):
            attempt = s.get(CallAttempt, attempt_id)
            assert attempt is not None
            attempt.status = status
        s.add(CallAttempt(case_id=1, survey_id=1, channel="asterisk", status=AttemptStatus.RINGING,
                          started_at=channel.clock.now()))
    assert channel.lines_in_use() == 2
