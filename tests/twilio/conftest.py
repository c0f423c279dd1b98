"""Fixtures for the Twilio channel: Twilio's published API description and TwiML schema (local
copies, no network), a fake REST API, settings, and a survey with a case ready to be called."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

# ``tests/`` is on sys.path (pytest's prepend import mode), so ``tests/web`` would otherwise be
# imported as a namespace package ``web`` in place of the app's (as tests/web/conftest.py notes).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pytest
from fake_twilio import FakeTwilio
from flask import Flask
from lxml import etree
from openapi_core import OpenAPI
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Dial, Dialled, Services

from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import make_engine, session_factory, session_scope
from survey.models import CallAttempt, Case, Contact
from survey.phones import PhoneVault, mask
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import AttemptStatus
from web.blueprints.twilio import EXTENSION, build_webhooks
from web.webhook_app import create_webhook_app

# The project's shared reference data sits beside the clone (../shared), in CI as here.
SHARED = Path(__file__).resolve().parents[3] / "shared"
REFERENCE = Path(os.environ.get("MINYI_TWILIO_REFERENCE", str(SHARED / "twilio")))
XSD = "twiml_v20100401_twilioRealtimeCallSchema.xsd"
# The schema's voice pattern predates Polly neural and Google voices, which Twilio accepts.
VOICE_PATTERN = r'<xs:pattern value="man|woman|male|female|eve|brian|Polly\.[a-zA-Z]+" />'
LOOSER_VOICE_PATTERN = (r'<xs:pattern value="man|woman|male|female|eve|brian|Polly\.[a-zA-Z]+(-Neural|-Generative)?'
                        r'|Google\.[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9-]+" />')
NUMBER = "+8613800138000"


def _reference(path: str) -> Path:
    found = REFERENCE / path
    if not found.exists():
        pytest.fail(f"Twilio reference file {found} is missing (set MINYI_TWILIO_REFERENCE)")
    return found


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(_reference("openapi/twilio_api_v2010.json").read_text(encoding="utf-8")))


class _LocalXmlXsd(etree.Resolver):  # type: ignore[misc]
    """Points the schema's import of the W3C xml.xsd at the local copy."""

    def __init__(self, local: Path) -> None:
        super().__init__()
        self.local = local

    def resolve(self, url: str, pubid: str, context: object) -> object:
        if url == "http://www.w3.org/2001/xml.xsd":
            return self.resolve_filename(str(self.local), context)
        return None


@pytest.fixture(scope="session")
def twiml_schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    source = _reference("twiml-xsd")
    copy = tmp_path_factory.mktemp("twiml-xsd")
    for path in source.iterdir():
        shutil.copy(path, copy / path.name)
    main = copy / XSD
    text = main.read_bytes().decode("iso-8859-1")
    assert VOICE_PATTERN in text, "the TwiML schema's voice pattern changed: update the test copy"
    main.write_bytes(text.replace(VOICE_PATTERN, LOOSER_VOICE_PATTERN).encode("iso-8859-1"))
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXmlXsd(source / "xml.xsd"))
    return etree.XMLSchema(etree.parse(str(main), parser))


@pytest.fixture
def settings() -> Settings:
    return Settings(public_url="https://survey.example.gov.cn", secret_key="test-secret",
                    twilio_account_sid="AC" + "0123456789abcdef" * 2, twilio_auth_token="test-auth-token",
                    twilio_from="+15005550001", twilio_cps=1.0)


@pytest.fixture
def urls(settings: Settings) -> WebhookUrls:
    return WebhookUrls(settings.public_url)


@pytest.fixture
def fake(openapi: OpenAPI, clock: VirtualClock, settings: Settings) -> FakeTwilio:
    """The account owns the number calls come from (TWILIO_FROM)."""
    twilio = FakeTwilio(openapi, clock)
    twilio.numbers.add(settings.twilio_from)
    return twilio


def _app(services: Services, fake: FakeTwilio) -> Flask:
    """The webhook app ``web.app`` mounts, with the fake Twilio under its REST client."""
    flask_app = create_webhook_app(services)
    flask_app.extensions[EXTENSION] = build_webhooks(services, http_client=fake)
    return flask_app


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock, fake: FakeTwilio) -> Flask:
    return _app(Services(settings, sessions, clock), fake)


@pytest.fixture
def app_for(sessions: sessionmaker[Session], clock: VirtualClock, fake: FakeTwilio) -> Callable[[Settings], Flask]:
    """``app_for(settings)``: the app with other settings than the fixture's."""
    return lambda other: _app(Services(other, sessions, clock), fake)


@pytest.fixture
def no_database() -> sessionmaker[Session]:
    """Sessions on an empty in-memory database: for code that must not touch storage (any query fails)."""
    return session_factory(make_engine("sqlite://"))


@pytest.fixture
def app_without_database(settings: Settings, no_database: sessionmaker[Session], clock: VirtualClock,
                         fake: FakeTwilio) -> Flask:
    return _app(Services(settings, no_database, clock), fake)


@pytest.fixture
def dial(sessions: sessionmaker[Session], clock: VirtualClock) -> Dial:
    """``dial(number)`` → a new attempt on the number's case in a one-township survey, as the
    dialer makes it."""
    cases: dict[str, int] = {}

    def make(number: str = NUMBER) -> Dialled:
        with session_scope(sessions) as s:
            if not cases:
                survey = create_survey(s, "S1", load_bundled(), clock, period="2026-11", quota=100,
                                       strata=[StratumSpec("T01", "城关镇", "Chengguan")])
                cases["survey"], cases["stratum"] = survey.id, survey.strata[0].id
            case_id = cases.get(number) or _case(s, cases["survey"], cases["stratum"], number, clock)
            cases[number] = case_id
            attempt = CallAttempt(case_id=case_id, survey_id=cases["survey"], channel="twilio",
                                  status=AttemptStatus.QUEUED, started_at=clock.now())
            s.add(attempt)
            s.flush()
            return Dialled(case_id, attempt.id)

    return make


def _case(s: Session, survey_id: int, stratum_id: int, number: str, clock: VirtualClock) -> int:
    vault = PhoneVault("test-secret")
    contact = Contact(number_enc=vault.encrypt(number), number_hash=vault.hash(number), number_masked=mask(number))
    s.add(contact)
    s.flush()
    case = Case(survey_id=survey_id, stratum_id=stratum_id, contact_id=contact.id, attempts=1,
                created_at=clock.now(), updated_at=clock.now())
    s.add(case)
    s.flush()
    return case.id
