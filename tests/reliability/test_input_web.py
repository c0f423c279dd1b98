"""Random input to the whole app (``web.create_app`` on the seeded demo county): Twilio webhooks
with random fields, signed with the right token so that they pass the signature check, and
logged-in staff of every role posting random fields (CSRF token included) to every POST route.
Never a 500; and the audit rows that existed before are still there, unchanged."""

from __future__ import annotations

import functools
import io
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from reliability_support import examples, sibling_conftest
from sqlalchemy import select
from twilio_caller import Call
from wtforms.fields.core import UnboundField

from survey.models import AuditLog, CallAttempt, FollowUpTask
from survey.vocabulary import AttemptStatus, TaskStatus

_web = sibling_conftest("web")
_cheap_password_hashes, seeded, web, login = _web._cheap_password_hashes, _web.seeded, _web.web, _web.login
WebApp = _web.WebApp

FUZZ = dict(derandomize=True, database=None, deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large])
ROLES = ("admin", "supervisor", "interviewer", "interviewer2", "transcriber", "official", "unit_ps01")
TEXT = st.one_of(
    st.text(max_size=30), st.integers(-(10**12), 10**12).map(str), st.text(string.digits + "*#", max_size=12),
    st.sampled_from(["", " ", "0", "-1", "1e309", "nan", "2026-11-02T18:30", "2026-02-30T25:61", "../../etc/passwd",
                     "<script>alert(1)</script>", "' OR 1=1 --", "\x00", "+8613800138000", "x" * 5000]))

# -- Twilio ----------------------------------------------------------------------------------------

TWILIO_FIELDS = ("CallSid", "AccountSid", "CallStatus", "Digits", "AnsweredBy", "RecordingUrl", "RecordingSid",
                 "RecordingDuration", "RecordingStatus", "DialCallStatus", "DialCallDuration", "CallDuration",
                 "Direction", "From", "To", "ErrorCode", "SpeechResult", "FinishedOnKey")
TWILIO_VALUES = st.one_of(TEXT, st.sampled_from([
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled",
    "human", "machine_start", "machine_end_beep", "fax", "unknown", "answered", "outbound-api",
    "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1", "RE" + "1" * 32]))
HOOKS = ("start", "gather", "recorded", "dialed", "recording", "status", "amd")
KEYS = st.one_of(st.text("0123456789*#", max_size=3), st.sampled_from(["1", "2", "1", "0", "*", "#", ""]))
EXTRA = st.dictionaries(st.one_of(st.sampled_from(TWILIO_FIELDS), st.text(max_size=8)), TWILIO_VALUES, max_size=3)


@dataclass(frozen=True)
class Delivery:
    """A webhook request: ``hook`` None follows the action URL of the last TwiML (a resident
    pressing keys), else a request to ``hook`` with a made-up query."""

    hook: str | None
    query: dict[str, str]
    form: dict[str, str]


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    if draw(st.integers(0, 2)):  # the resident at the current prompt, with some noise
        form = {"Digits": draw(KEYS), **draw(st.one_of(st.just({}), EXTRA))}
        return Delivery(None, {}, {"CallSid": "{sid}", **form})
    query: dict[str, str] = {}
    if draw(st.integers(0, 9)):
        query["attempt"] = draw(st.one_of(st.just("{attempt}"), TEXT))
    if draw(st.booleans()):
        query["seq"] = draw(st.one_of(st.integers(-1, 40).map(str), TEXT))
    form = draw(EXTRA)
    if draw(st.integers(0, 9)):
        form["CallSid"] = "{sid}"
    return Delivery(draw(st.sampled_from(HOOKS)), query, form)


class RandomCaller:
    """Twilio's side of one call, signing every request with the app's auth token."""

    def __init__(self, web: WebApp) -> None:
        with web.sessions.begin() as s:
            case_id = next(iter(web.demo.numbers))
            attempt = CallAttempt(case_id=case_id, survey_id=web.demo.survey_id, channel="twilio",
                                  status=AttemptStatus.QUEUED, started_at=web.clock.now())
            s.add(attempt)
            s.flush()
            self.call = Call(web.app.test_client(), web.settings, None, attempt.id, f"CA{attempt.id:032x}")
        self.action: str | None = None

    def answer(self) -> int:
        return self.send(Delivery("start", {"attempt": "{attempt}"}, {"CallSid": "{sid}",
                                                                       "CallStatus": "in-progress"}))

    def send(self, d: Delivery) -> int:
        url = self.action if d.hook is None else self._url(d.hook, d.query)
        if url is None:
            return 200
        response = self.call.post(url, {k: self._fill(v) for k, v in d.form.items()})
        if response.status_code == 200 and response.mimetype == "application/xml":
            self.action = _next_action(response.data)
        return int(response.status_code)

    def _url(self, hook: str, query: dict[str, str]) -> str:
        filled = {k: self._fill(v) for k, v in query.items()}
        return f"{self.call.settings.public_url}/twilio/voice/{hook}" + (f"?{urlencode(filled)}" if filled else "")

    def _fill(self, value: str) -> str:
        return value.replace("{attempt}", str(self.call.attempt_id)).replace("{sid}", self.call.sid)


def _next_action(twiml: bytes) -> str | None:
    """Where Twilio goes next: the <Gather> or <Record> action, else the <Redirect>."""
    doc = etree.fromstring(twiml)
    for tag in ("Gather", "Record"):
        found = doc.find(f".//{tag}")
        if found is not None and found.get("action"):
            return found.get("action")
    redirect = doc.find(".//Redirect")
    return redirect.text if redirect is not None else None


@settings(max_examples=examples(500), **FUZZ)  # type: ignore[arg-type]
@given(script=st.lists(deliveries(), min_size=1, max_size=25), answered=st.booleans())
def test_signed_twilio_webhooks_with_random_fields_never_fail(web: WebApp, script: list[Delivery],
                                                              answered: bool) -> None:
    caller = RandomCaller(web)
    if answered:
        assert caller.answer() == 200
    for delivery in script:
        status = caller.send(delivery)
        event(f"{delivery.hook or 'follow'} {status}")
        assert status < 500 and status != 403, (delivery, status)


# -- staff forms -----------------------------------------------------------------------------------


@functools.cache
def _form_fields() -> dict[str, list[str]]:
    """Every field of every form in the app (its blueprints are imported by then), with its
    choices where they are fixed."""
    fields: dict[str, list[str]] = {}
    todo = list(FlaskForm.__subclasses__())
    while todo:
        form = todo.pop()
        todo += form.__subclasses__()
        for name, value in vars(form).items():
            if isinstance(value, UnboundField):
                choices = value.kwargs.get("choices") or []
                fields.setdefault(name, []).extend(str(c[0] if isinstance(c, tuple) else c) for c in choices)
    return fields


def _post_routes(app: Flask) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if "POST" in (rule.methods or ()) and not rule.rule.startswith(("/twilio", "/logout")))


def _ids(web: WebApp) -> dict[str, list[int]]:
    """Ids to put in paths: tasks the interviewers hold first, then every other one; users only
    of an account nobody here uses (an administrator's random edit must not lock the others out)."""
    demo = web.demo
    with web.sessions() as s:
        held = list(s.scalars(select(FollowUpTask.id).where(FollowUpTask.status == TaskStatus.IN_PROGRESS)))
    tasks = [t for ids in demo.tasks.values() for t in ids]
    return {"task_id": held * 3 + tasks, "case_id": list(demo.numbers), "survey_id": [demo.survey_id],
            "recording_id": demo.recordings, "concern_id": list(demo.concerns.values()),
            "user_id": [demo.users["official_t01"]]}


ALLOWED = {"/console": ("interviewer", "interviewer2"), "/transcribe": ("transcriber", "supervisor"),
           "/surveys": ("supervisor",), "/cases": ("supervisor",), "/concerns": ("supervisor", "unit_ps01"),
           "/admin": ("admin",)}


def _role(draw: st.DrawFn, path: str) -> str:
    """Mostly a role the route is for (else most posts stop at the 403), now and then any."""
    allowed = next((roles for prefix, roles in ALLOWED.items() if path.startswith(prefix)), ROLES)
    return str(draw(st.sampled_from(allowed if draw(st.integers(0, 9)) else ROLES)))


@st.composite
def form_posts(draw: st.DrawFn, web: WebApp, fields: dict[str, list[str]]) -> tuple[str, str, dict[str, Any]]:
    """(role, path, form data): known fields with their choices or random text, unknown fields,
    random file uploads, path ids that exist and ids that do not."""
    path = draw(st.sampled_from(_post_routes(web.app)))
    role = _role(draw, path)
    for name, ids in _ids(web).items():  # the draws' shape must not depend on the database's state
        existing, n = draw(st.integers(0, 3)), draw(st.integers(0, 10**6))
        path = path.replace(f"<int:{name}>", str(ids[n % len(ids)] if existing and ids else n))
    names = st.one_of(st.sampled_from(sorted(fields)), st.sampled_from([f"quota-T0{i}" for i in range(1, 5)]),
                      st.text(max_size=10))
    data: dict[str, Any] = {}
    for name in draw(st.lists(names, max_size=6, unique=True)):
        known = fields.get(name) or []
        data[name] = draw(st.one_of(st.sampled_from(known), TEXT) if known else TEXT)
    for name in draw(st.lists(st.sampled_from(["file", "strata"]), max_size=1)):
        content = draw(st.one_of(st.binary(max_size=300), st.sampled_from([b"number,township\n13800138000,T01\n",
                                                                           b"code,name_zh\nT01,x\n"])))
        data[name] = (io.BytesIO(content), draw(st.sampled_from(["f.csv", "f.xlsx", "f.yaml", "..", ""])))
    return role, path, data


@pytest.fixture
def staff(web: WebApp, login: Callable[[str], Any]) -> dict[str, Any]:
    """A logged-in client per role; the interviewers hold a few tasks each."""
    clients = {role: login(role) for role in ROLES}
    for interviewer in ("interviewer", "interviewer2"):
        for _ in range(3):
            clients[interviewer].post("/console/next")
    return clients


def _audit(web: WebApp) -> list[tuple[object, ...]]:
    with web.sessions() as s:
        return [(r.id, r.at, r.user_id, r.action, r.entity, r.entity_id, r.before, r.after)
                for r in s.scalars(select(AuditLog).order_by(AuditLog.id))]


@pytest.fixture
def audit_kept(web: WebApp) -> Iterator[None]:
    """The audit rows from before the test are all there and unchanged after it (no route may
    update or delete one), while the posts did make audited changes."""
    before = _audit(web)
    yield
    after = _audit(web)
    assert after[: len(before)] == before and len(after) > len(before)


@pytest.mark.slow
@settings(max_examples=examples(1000), **FUZZ)  # type: ignore[arg-type]
@given(data=st.data())
def test_staff_posting_random_forms_never_get_a_500(web: WebApp, staff: dict[str, Any], audit_kept: None,
                                                    data: st.DataObject) -> None:
    role, path, form = data.draw(form_posts(web, _form_fields()))
    response = staff[role].post(path, form, content_type="multipart/form-data")
    event(f"{role} {response.status_code}")
    assert response.status_code < 500, (role, path, form, response.status_code)

