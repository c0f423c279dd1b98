"""Personal data and secrets: the sample's phone numbers never reach a log (a simulated campaign,
the Twilio channel over its real HTTP transport and its webhooks, all at DEBUG), an export or the
bulletin, and are encrypted at rest; the audit log cannot be changed through the app; the ARI
password never reaches a log, even when Asterisk refuses it or is away."""

from __future__ import annotations

import base64
import csv
import io
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from ari_fake import FakeAsterisk
from fake_twilio import FakeTwilio
from flask import Flask
from lxml import etree
from openapi_core import OpenAPI
from pypdf import PdfReader
from reliability_http import TwilioOverHttp
from reliability_support import sibling_conftest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from test_twilio_interview import SCRIPT
from twilio_caller import Call, Dial
from typer.testing import CliRunner

from dialer.protocol import CallRequest
from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing
from ivr.channels.asterisk.ari import AriUnavailable
from ivr.channels.twilio import TwilioChannel
from ivr.channels.twilio.urls import WebhookUrls
from minyi.cli import app as minyi
from minyi.demo import DemoOptions, DemoResult, run_demo
from survey import audit
from survey.audit import AuditLogImmutable
from survey.clock import VirtualClock
from survey.config import Settings, load_settings
from survey.db import make_engine, session_factory
from survey.models import AuditLog, Contact
from survey.phones import PhoneVault
from survey.vocabulary import CallStatus

_twilio, _asterisk, _web = sibling_conftest("twilio"), sibling_conftest("asterisk"), sibling_conftest("web")
openapi, app, fake, dial, urls, twiml_schema = (_twilio.openapi, _twilio.app, _twilio.fake, _twilio.dial, _twilio.urls,
                                                _twilio.twiml_schema)
ari_spec = _asterisk.ari_spec
_cheap_password_hashes, seeded, web, login = _web._cheap_password_hashes, _web.seeded, _web.web, _web.login
settings = _twilio.settings
ROUND = "demo-2026-10"


def leaked(text: str | bytes, numbers: list[str]) -> list[str]:
    """The numbers found in ``text``, written in full: E.164 or the national number."""
    found = text.decode("latin-1") if isinstance(text, bytes) else text
    return [n for n in numbers if n in found or n[3:] in found]


class Collect(logging.Handler):
    """Every record of every logger, at DEBUG, with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''} {record.args!r}")


@dataclass(frozen=True)
class Campaign:
    demo: DemoResult
    numbers: list[str]
    log: str


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    """``minyi demo``'s job on a small county (two simulated rounds, weighting, the bulletin),
    every logger at DEBUG, SQLAlchemy's statements and parameters too (``echo=True``)."""
    collect, root, engine_log = Collect(), logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    levels = root.level, engine_log.level
    root.setLevel(logging.DEBUG)
    engine_log.setLevel(logging.INFO)
    root.addHandler(collect)
    try:
        out = tmp_path_factory.mktemp("demo")
        demo = run_demo(DemoOptions(out=out, seed=7, townships=3, quota=8, replicate_size=40), load_settings({}))
    finally:
        root.removeHandler(collect)
        root.setLevel(levels[0])
        engine_log.setLevel(levels[1])
    numbers = [row["number"] for frame in sorted((out / "frames").glob("*.csv"))
               for row in csv.DictReader(frame.open(encoding="utf-8"))]
    yield Campaign(demo, numbers, "\n".join(collect.lines))


def _minyi(database: Path, *args: str) -> None:
    result = CliRunner().invoke(minyi, list(args), env={"MINYI_DATABASE_URL": f"sqlite:///{database}"})
    assert result.exit_code == 0, result.output


def _export_text(path: Path) -> str:
    """What an export holds, as text: values, variable names and labels."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(name).decode("utf-8", "replace") for name in z.namelist())
    if path.suffix in (".sav", ".dta"):
        read = pyreadstat.read_sav if path.suffix == ".sav" else pyreadstat.read_dta
        frame, meta = read(str(path))
        return frame.to_csv() + repr(meta.column_names_to_labels) + repr(meta.variable_value_labels)
    return path.read_text(encoding="utf-8-sig")


def test_the_campaign_logs_no_phone_number(campaign: Campaign) -> None:
    assert len(campaign.numbers) > 100 and leaked("\n".join(campaign.numbers), campaign.numbers)  # a real check
    assert "INSERT INTO contacts" in campaign.log and "INSERT INTO answers" in campaign.log  # what was logged
    assert leaked(campaign.log, campaign.numbers) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav", "dta"])
def test_exports_hold_no_phone_number(campaign: Campaign, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"answers.{fmt}"
    _minyi(campaign.demo.database, "export", "--survey", ROUND, "--format", fmt, "--out", str(out), "--partials")
    text = _export_text(out)
    assert len(pd.read_csv(io.StringIO(text))) if fmt == "csv" else text
    assert leaked(out.read_bytes(), campaign.numbers) == []
    assert leaked(text, campaign.numbers) == []


def test_the_bulletin_holds_no_phone_number(campaign: Campaign, tmp_path: Path) -> None:
    english = tmp_path / "bulletin-en.pdf"
    _minyi(campaign.demo.database, "report", "--survey", ROUND, "--lang", "en", "--out", str(english))
    for pdf in (campaign.demo.bulletin, english):
        text = "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
        assert len(text) > 1000
        assert leaked(text, campaign.numbers) == [] and leaked(pdf.read_bytes(), campaign.numbers) == []


def test_numbers_are_encrypted_at_rest(campaign: Campaign) -> None:
    database = campaign.demo.database
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]  # with -wal, -shm
    assert leaked(b"".join(p.read_bytes() for p in files), campaign.numbers) == []
    engine = make_engine(f"sqlite:///{database}")
    try:
        with session_factory(engine)() as s:  # ... yet they are all there, for whoever holds the key
            stored = {PhoneVault(load_settings({}).secret_key).decrypt(c) for c in s.scalars(select(Contact.number_enc))}
            assert stored == set(campaign.numbers)
            assert all(len(m) - m.count("*") < len(m) - 3 for m in s.scalars(select(Contact.number_masked)))
    finally:
        engine.dispose()


# -- Twilio ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_twilio_channel_and_webhooks_log_no_phone_number(openapi: OpenAPI, clock: VirtualClock, app: Flask,
                                                             dial: Dial, settings: Settings,
                                                             urls: WebhookUrls, twiml_schema: etree.XMLSchema,
                                                             sessions: sessionmaker[Session],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    numbers = ["+8613800138000", "+8613912345678", "+8615000000001"]
    results = _place_calls(openapi, clock, settings, sessions, numbers)
    assert results[0] is None and results[1] is not None and results[1].status == CallStatus.NON_WORKING
    assert leaked(results[1].error or "", numbers) == []  # stored with the attempt, shown to staff
    _interview_over_webhooks(Call(app.test_client(), settings, twiml_schema, dial().attempt_id,
                                  "CA" + "9" * 32), urls, numbers[0])
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "twilio.http_client" in logged and "urllib3" in logged  # the real transport, at DEBUG
    assert leaked(logged, numbers) == []


def _place_calls(openapi: OpenAPI, clock: VirtualClock, settings: Settings, sessions: sessionmaker[Session],
                 numbers: list[str]) -> list[object]:
    """One call created, one refused as Twilio refuses them (the message names the number), over
    HTTP through twilio-python's own client."""
    with TwilioOverHttp(lambda base: FakeTwilio(openapi, clock, base)) as api:
        channel = TwilioChannel(Settings(**{**vars(settings), "twilio_api_base_url": api.base_url}), sessions, clock)
        created = channel.place_call(_request(1, numbers[0]))
        api.fake.fail_next(400, 21211, f"The 'To' number {numbers[1]} is not a valid phone number.")
        refused = channel.place_call(_request(2, numbers[1]))
    return [created, refused]


def _request(attempt_id: int, number: str) -> CallRequest:
    return CallRequest(attempt_id, attempt_id, None, number, "+15005550006", None)


def _interview_over_webhooks(call: Call, urls: WebhookUrls, number: str) -> None:
    """Twilio sends the resident's number with every webhook (To, Called)."""
    who = {"To": number, "Called": number, "From": "+15005550006", "Direction": "outbound-api"}
    call.fetch(urls.start(call.attempt_id), {"CallStatus": "in-progress", **who})
    for keys, expected in SCRIPT[:6]:
        call.fetch(call.gather_action(), {"Digits": keys, "CallStatus": "in-progress", **who})
        assert expected in " ".join(call.spoken())
    call.notify(urls.status(call.attempt_id), {"CallStatus": "completed", **who})
    call.post(urls.status(call.attempt_id), {"CallSid": call.sid, "CallStatus": "bogus", **who})  # a 400, logged


# -- the audit log ---------------------------------------------------------------------------------


def test_no_route_changes_the_audit_log(web: object, login: object) -> None:
    admin = login("admin")  # type: ignore[operator]
    assert admin.get("/admin/audit").status_code == 200
    for method in ("post", "put", "patch", "delete"):
        assert getattr(admin.client, method)("/admin/audit").status_code == 405, method
    routes = [r.rule for r in web.app.url_map.iter_rules() if "audit" in r.rule]  # type: ignore[attr-defined]
    assert routes == ["/admin/audit"]


def test_audit_rows_cannot_be_rewritten_in_bulk(session: Session, clock: VirtualClock) -> None:
    audit.record(session, clock, user_id=None, action="test", entity="case", entity_id=1)
    session.commit()
    with pytest.raises(AuditLogImmutable):
        session.execute(update(AuditLog).values(action="forged"))
    session.rollback()
    with pytest.raises(AuditLogImmutable):
        session.execute(AuditLog.__table__.delete().where(AuditLog.id > 0))  # Core, through the session
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test")) == 1


# -- ARI credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_ari_password_is_never_logged_when_refused_or_unreachable(ari_spec: object, sessions: sessionmaker[Session],
                                                                       clock: VirtualClock,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeAsterisk(ari_spec, password="the-real-Pa55").start()  # type: ignore[arg-type]
    secret = "s3cret-Wrong-Pa55"
    try:
        for url in (server.url, "http://127.0.0.1:9"):  # a wrong password; nobody listening
            settings = Settings(ari_url=url, ari_username=server.username, ari_password=secret, ari_app=server.app)
            options = AsteriskOptions.from_settings(settings, timing=Timing(connect_wait_s=0.5, backoff_initial_s=0.05,
                                                                            backoff_max_s=0.1))
            with AsteriskChannel(settings, sessions, clock, options=options) as channel, \
                    pytest.raises(AriUnavailable):
                channel.place_call(CallRequest(1, 1, None, "+8613800138000", "1234", None))
    finally:
        server.stop()
    basic = base64.b64encode(f"{server.username}:{secret}".encode()).decode()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert len(caplog.records) > 5 and secret not in logged and basic not in logged
