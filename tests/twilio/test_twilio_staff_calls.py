"""Staff-placed calls through Twilio, end to end on the stand-in: the interviewer presses "Call",
Twilio rings the interviewer's phone, then the resident, and the two meet in a conference; the
webhooks report every step to the staff-call service (signed, replays harmless), the system codes
busy, no answer and failed, the quality-control recording comes home, and a supervisor listens in
muted. Every REST request is checked against Twilio's OpenAPI description, every TwiML reply
against its schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from fake_twilio import FakeTwilio
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from openapi_core import OpenAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio_caller import Call, Services
from twilio_media import TwilioMedia, wav

from calls import staff_lines as lines
from calls.questionnaires import Questionnaires
from calls.staff import Staff, claim_next
from dialer.followup import open_task
from ivr.channels.twilio.fetch import RecordingFetcher
from ivr.channels.twilio.staff import TwilioStaffLine
from ivr.channels.twilio.staff_twiml import conference_name
from ivr.channels.twilio.staff_urls import StaffCallUrls
from office.users import create_user
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import (
    QC_RECORDING,
    AuditLog,
    CallAttempt,
    Case,
    Contact,
    FollowUpTask,
    Recording,
    StaffCall,
    User,
    WebhookReply,
)
from survey.phones import PhoneVault, mask
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import RecordingDownload, Role, StaffCallEnd, StaffCallState, TaskKind, TaskStatus
from web.app import create_app
from web.blueprints.twilio import STAFF_EXTENSION, bp, build_staff_webhooks

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True)

RESIDENT = "+8613800138000"
STAFF_PHONE = "+8613911112222"
SUPERVISOR_PHONE = "+8613933334444"
RECORDING_SID = "RE" + "7" * 32
VAULT = PhoneVault("test-secret")
CONSENT = "为了保证访问质量，本次通话将被录音。"


@pytest.fixture
def home(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, recordings_dir=str(tmp_path / "recordings"), prompts_dir=str(tmp_path / "prompts"))


@pytest.fixture
def app(home: Settings, sessions: sessionmaker[Session], clock: VirtualClock, fake: FakeTwilio) -> Flask:
    services = Services(home, sessions, clock)
    flask_app = Flask(__name__)
    flask_app.extensions["minyi"] = services
    flask_app.extensions[STAFF_EXTENSION] = build_staff_webhooks(services, VAULT, http_client=fake)
    flask_app.register_blueprint(bp, url_prefix="/twilio")
    return flask_app


@pytest.fixture
def line(home: Settings, fake: FakeTwilio) -> TwilioStaffLine:
    return TwilioStaffLine(home, http_client=fake)


@pytest.fixture
def urls(home: Settings) -> StaffCallUrls:
    return StaffCallUrls(home.public_url)


@dataclass
class Desk:
    """An interviewer holding a task with its open CATI attempt, and a supervisor."""

    staff: Staff
    task_id: int
    case_id: int
    supervisor_id: int


def _desk(sessions: sessionmaker[Session], clock: VirtualClock, *, record: bool) -> Desk:
    with session_scope(sessions) as s:
        survey = create_survey(s, "S1", load_bundled(), clock, period="2026-11", quota=100,
                               strata=[StratumSpec("T01", "城关镇", "Chengguan")])
        contact = Contact(number_enc=VAULT.encrypt(RESIDENT), number_hash=VAULT.hash(RESIDENT),
                          number_masked=mask(RESIDENT))
        s.add(contact)
        s.flush()
        case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id, attempts=1,
                    created_at=clock.now(), updated_at=clock.now())
        s.add(case)
        s.flush()
        user = create_user(s, "zhang", "a long password", Role.INTERVIEWER, clock)
        supervisor = create_user(s, "li", "a long password", Role.SUPERVISOR, clock)
        user.phone, supervisor.phone = STAFF_PHONE, SUPERVISOR_PHONE
        lines.set_policy(s, clock, user_id=supervisor.id, provider="twilio", record=record, tel_fallback=False)
        open_task(s, survey_id=survey.id, case_id=case.id, kind=TaskKind.PARTIAL, now=clock.now(), note="")
        staff = Staff(user.id, user.username)
        task = claim_next(s, staff, clock)
        assert task is not None
        return Desk(staff, task.id, case.id, supervisor.id)


Place = Callable[..., tuple[Desk, int]]


@pytest.fixture
def place(sessions: sessionmaker[Session], clock: VirtualClock, line: TwilioStaffLine) -> Place:
    """The interviewer presses "Call": the desk and the staff call's id."""

    def make(record: bool = True) -> tuple[Desk, int]:
        desk = _desk(sessions, clock, record=record)
        with session_scope(sessions) as s:
            task = s.get(FollowUpTask, desk.task_id)
            assert task is not None
            call = lines.place(s, task, desk.staff, line, clock, VAULT, Questionnaires())
            return desk, call.id

    return make


def _call(sessions: sessionmaker[Session], call_id: int) -> StaffCall:
    with sessions() as s:
        call = s.get(StaffCall, call_id)
        assert call is not None
        s.expunge(call)
        return call


@dataclass
class Twilio:
    """Twilio's side of one staff call: its legs' signed webhooks (each checked: TwiML against the
    schema, notifications answered 204)."""

    app: Flask
    settings: Settings
    schema: etree.XMLSchema
    urls: StaffCallUrls
    sessions: sessionmaker[Session]
    call_id: int

    def staff(self) -> Call:
        return self._leg(_call(self.sessions, self.call_id).provider_ref)

    def resident(self) -> Call:
        return self._leg(_call(self.sessions, self.call_id).resident_ref)

    def _leg(self, sid: str | None) -> Call:
        assert sid is not None, "Twilio has no such leg"
        return Call(self.app.test_client(), self.settings, self.schema, 0, sid)

    def staff_answers(self) -> etree._Element:
        return self.staff().fetch(self.urls.answered(self.call_id, "staff"), {"CallStatus": "in-progress"})

    def resident_answers(self) -> etree._Element:
        return self.resident().fetch(self.urls.answered(self.call_id, "resident"), {"CallStatus": "in-progress"})

    def consent_heard(self) -> etree._Element:
        return self.resident().fetch(self.urls.bridge(self.call_id), {"CallStatus": "in-progress"})

    def staff_status(self, status: str, **more: str) -> None:
        self.staff().notify(self.urls.status(self.call_id, "staff"), {"CallStatus": status, **more})

    def resident_status(self, status: str, **more: str) -> None:
        self.resident().notify(self.urls.status(self.call_id, "resident"), {"CallStatus": status, **more})

    def recording_ready(self, seconds: int = 60, **more: str) -> None:
        """The conference's recordingStatusCallback: no CallSid, the ConferenceSid instead."""
        form = {"AccountSid": self.settings.twilio_account_sid, "ConferenceSid": "CF" + "c" * 32,
                "RecordingSid": RECORDING_SID, "RecordingStatus": "completed", "RecordingDuration": str(seconds),
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.settings.twilio_account_sid}"
                                f"/Recordings/{RECORDING_SID}", "RecordingSource": "Conference",
                "RecordingChannels": "1", **more}
        response = self.staff().post(self.urls.recording(self.call_id), form)
        assert response.status_code == 204, response.get_data(as_text=True)


@pytest.fixture
def twilio(app: Flask, home: Settings, twiml_schema: etree.XMLSchema, urls: StaffCallUrls,
           sessions: sessionmaker[Session]) -> Callable[[int], Twilio]:
    return lambda call_id: Twilio(app, home, twiml_schema, urls, sessions, call_id)


def _conference(doc: etree._Element) -> etree._Element:
    assert [el.tag for el in doc] == ["Dial"], etree.tostring(doc)
    (conference,) = doc[0]
    assert conference.tag == "Conference"
    return conference


# -- a bridged call -----------------------------------------------------------------------------


def test_a_bridged_call_rings_staff_then_resident_and_keeps_its_times(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session],
        clock: VirtualClock, home: Settings) -> None:
    placed_at = clock.now()
    desk, call_id = place(record=False)
    (staff_leg,) = fake.calls_created()
    assert staff_leg.one("To") == STAFF_PHONE and staff_leg.one("Url").endswith(f"call={call_id}&leg=staff")
    line = twilio(call_id)

    clock.advance(timedelta(seconds=6))
    conference = _conference(line.staff_answers())
    assert conference.text == conference_name(call_id) and conference.get("startConferenceOnEnter") == "false"
    _, resident_leg = fake.calls_created()  # dialled once the staff member picked up
    assert resident_leg.one("To") == RESIDENT and resident_leg.one("Url").endswith(f"call={call_id}&leg=resident")
    assert "MachineDetection" not in resident_leg.form
    line.resident_status("ringing")

    clock.advance(timedelta(seconds=9))
    answered_at = clock.now()
    conference = _conference(line.resident_answers())  # not recorded: bridged at once
    assert conference.get("startConferenceOnEnter") == "true" and conference.get("record") is None
    assert _call(sessions, call_id).state == StaffCallState.TALKING

    clock.advance(timedelta(minutes=4))
    line.resident_status("completed", CallDuration="240")
    call = _call(sessions, call_id)
    assert (call.state, call.end, call.coded) == (StaffCallState.ENDED, StaffCallEnd.COMPLETED, None)
    assert (call.placed_at, call.staff_answered_at, call.ringing_at, call.answered_at, call.ended_at) == (
        placed_at, placed_at + timedelta(seconds=6), placed_at + timedelta(seconds=6), answered_at, clock.now())
    with sessions() as s:
        attempt = s.get(CallAttempt, call.attempt_id)
        assert attempt is not None and attempt.answered_at == answered_at
    line.staff_status("completed", CallDuration="250")  # the conference released the staff member
    assert _call(sessions, call_id).ended_at == call.ended_at


def test_the_resident_number_never_leaves_for_the_staff_side(place: Place, twilio: Callable[[int], Twilio],
                                                              fake: FakeTwilio, sessions: sessionmaker[Session]) -> None:
    """Only Twilio's request for the resident's leg carries the number: not the staff member's leg,
    no TwiML, no URL, nothing stored with the call or its audit."""
    _, call_id = place(record=True)
    line = twilio(call_id)
    replies = [line.staff_answers(), line.resident_answers(), line.consent_heard()]
    line.resident_status("completed", CallDuration="30")
    digits = RESIDENT[1:]
    assert [s.one("To") for s in fake.calls_created()] == [STAFF_PHONE, RESIDENT]
    assert all(digits not in etree.tostring(doc).decode() for doc in replies)
    assert all(digits not in s.url for s in fake.sent)
    with sessions() as s:
        call = s.get(StaffCall, call_id)
        assert call is not None
        assert all(digits not in str(getattr(call, c.key)) for c in StaffCall.__table__.columns)
        assert all(digits not in f"{a.before}{a.after}" for a in s.scalars(select(AuditLog)))


# -- recorded for quality control --------------------------------------------------------------


def test_a_recorded_call_plays_the_consent_notice_before_the_resident_joins(
        place: Place, twilio: Callable[[int], Twilio], sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _, call_id = place(record=True)
    line = twilio(call_id)
    staff = _conference(line.staff_answers())
    assert staff.get("record") == "record-from-start"  # the conference, once it starts
    consent = line.resident_answers()
    assert [el.tag for el in consent] == ["Say", "Redirect"] and consent[0].text == CONSENT
    assert _call(sessions, call_id).state == StaffCallState.RINGING  # not bridged during the notice
    clock.advance(timedelta(seconds=5))
    resident = _conference(line.consent_heard())
    assert resident.get("startConferenceOnEnter") == "true" and resident.get("record") == "record-from-start"
    call = _call(sessions, call_id)
    assert call.state == StaffCallState.TALKING and call.answered_at == clock.now()


def test_a_resident_who_hangs_up_during_the_notice_is_never_bridged(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session]) -> None:
    _, call_id = place(record=True)
    line = twilio(call_id)
    line.staff_answers()
    line.resident_answers()
    line.resident_status("completed", CallDuration="3")
    call = _call(sessions, call_id)
    assert call.state == StaffCallState.ENDED and call.answered_at is None
    (hung_up,) = fake.calls_updated()  # the staff member is not left waiting in the conference
    assert hung_up.path.endswith(f"/Calls/{call.provider_ref}.json") and hung_up.form == {"Status": ["completed"]}


def _recorded_call(place: Place, twilio: Callable[[int], Twilio], home: Settings, sessions: sessionmaker[Session],
                   clock: VirtualClock, openapi: OpenAPI) -> tuple[int, bytes]:
    """A recorded call made, its recording announced twice and brought home: the call's id, the audio."""
    _, call_id = place(record=True)
    line = twilio(call_id)
    line.staff_answers()
    line.resident_answers()
    line.consent_heard()
    line.resident_status("completed", CallDuration="61")
    line.recording_ready(seconds=60)
    line.recording_ready(seconds=60)  # delivered again: harmless
    with sessions() as s:
        (row,) = s.scalars(select(Recording)).all()
        assert (row.staff_call_id, row.question_id, row.provider_id) == (call_id, QC_RECORDING, RECORDING_SID)
        assert row.download_status == RecordingDownload.PENDING and row.next_attempt_at == clock.now()
    media = TwilioMedia(openapi, home.twilio_account_sid, home.twilio_auth_token)
    media.files[RECORDING_SID] = audio = wav(60)
    fetcher = RecordingFetcher(home, sessions, clock, transport=media.transport)
    try:
        report = fetcher.run()
    finally:
        fetcher.close()
    assert (report.stored, report.failed, report.deleted) == (1, [], 1)  # and deleted at Twilio
    return call_id, audio


def test_the_quality_control_recording_comes_home_once(
        place: Place, twilio: Callable[[int], Twilio], sessions: sessionmaker[Session], clock: VirtualClock,
        home: Settings, openapi: OpenAPI) -> None:
    call_id, audio = _recorded_call(place, twilio, home, sessions, clock, openapi)
    with sessions() as s:
        row = s.scalars(select(Recording)).one()
        assert row.download_status == RecordingDownload.STORED
        assert (Path(home.recordings_dir) / row.path).read_bytes() == audio
        assert row.case.id == _call(sessions, call_id).case_id


def test_the_quality_control_recording_plays_in_the_web_app_scoped_and_audited(
        place: Place, twilio: Callable[[int], Twilio], sessions: sessionmaker[Session], clock: VirtualClock,
        home: Settings, openapi: OpenAPI) -> None:
    _, audio = _recorded_call(place, twilio, home, sessions, clock, openapi)
    with session_scope(sessions) as s:
        listener = create_user(s, "wu", "a long password", Role.TRANSCRIBER, clock).id
        create_user(s, "he", "a long password", Role.TRANSCRIBER, clock, township_scope=["T09"])
        recording_id = s.scalars(select(Recording.id)).one()
    web = create_app(home, sessions, clock)
    web.config["WTF_CSRF_ENABLED"] = False

    def get(username: str, path: str) -> int:
        client = web.test_client()
        client.post(f"{home.public_url}/login", data={"username": username, "password": "a long password"})
        response = client.get(f"{home.public_url}{path}")
        assert response.status_code != 200 or response.get_data() == audio
        return response.status_code

    assert get("wu", f"/transcribe/{recording_id}/audio") == 200
    assert get("he", f"/transcribe/{recording_id}/audio") == 404  # another township: as if missing
    with sessions() as s:
        (played,) = s.scalars(select(AuditLog).where(AuditLog.action == "download")).all()
        assert (played.entity, played.entity_id, played.user_id) == ("recording", str(recording_id), listener)


def test_a_recording_twilio_could_not_make_stores_nothing(place: Place, twilio: Callable[[int], Twilio],
                                                           sessions: sessionmaker[Session]) -> None:
    _, call_id = place(record=True)
    twilio(call_id).recording_ready(RecordingStatus="absent")
    with sessions() as s:
        assert s.scalars(select(Recording)).all() == []


# -- coded by the system ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "end"), [("busy", StaffCallEnd.BUSY), ("no-answer", StaffCallEnd.NO_ANSWER),
                                             ("failed", StaffCallEnd.FAILED)])
def test_a_busy_unanswered_or_failed_resident_is_coded_by_the_system(
        status: str, end: StaffCallEnd, place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio,
        sessions: sessionmaker[Session]) -> None:
    desk, call_id = place(record=True)
    line = twilio(call_id)
    line.staff_answers()
    line.resident_status("ringing")
    line.resident_status(status, SipResponseCode="486" if status == "busy" else "")
    call = _call(sessions, call_id)
    assert (call.state, call.end, call.coded) == (StaffCallState.ENDED, end, lines.CODED[end])
    assert call.hangup_cause is not None and call.hangup_cause.startswith(status)
    with sessions() as s:
        task = s.get(FollowUpTask, desk.task_id)
        assert task is not None and task.status != TaskStatus.IN_PROGRESS  # given back, coded
    (hung_up,) = fake.calls_updated()  # the staff member's leg, waiting in the conference
    assert hung_up.path.endswith(f"/Calls/{call.provider_ref}.json")
    line.resident_status(status)  # delivered again: coded once
    assert _call(sessions, call_id).coded == lines.CODED[end] and len(fake.calls_updated()) == 1


@pytest.mark.parametrize(("status", "end"), [("no-answer", StaffCallEnd.STAFF_UNANSWERED),
                                             ("busy", StaffCallEnd.STAFF_UNANSWERED),
                                             ("canceled", StaffCallEnd.CANCELLED)])  # hung up from the console
def test_a_staff_phone_that_does_not_answer_codes_nothing(status: str, end: StaffCallEnd, place: Place,
                                                         twilio: Callable[[int], Twilio], fake: FakeTwilio,
                                                         sessions: sessionmaker[Session]) -> None:
    desk, call_id = place()
    twilio(call_id).staff_status(status)
    call = _call(sessions, call_id)
    assert (call.state, call.end, call.coded) == (StaffCallState.ENDED, end, None)
    with sessions() as s:
        task = s.get(FollowUpTask, desk.task_id)
        assert task is not None and task.status == TaskStatus.IN_PROGRESS  # still the interviewer's
    assert len(fake.calls_created()) == 1  # the resident was never dialled


def test_a_staff_member_who_hangs_up_while_the_resident_rings_cancels_the_call(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session]) -> None:
    _, call_id = place()
    line = twilio(call_id)
    line.staff_answers()
    line.resident_status("ringing")
    line.staff_status("completed", CallDuration="12")
    call = _call(sessions, call_id)
    assert (call.end, call.coded) == (StaffCallEnd.CANCELLED, None)
    (hung_up,) = fake.calls_updated()
    assert hung_up.path.endswith(f"/Calls/{call.resident_ref}.json")
    assert [el.tag for el in line.resident_answers()] == ["Hangup"]  # picked up just too late


def test_a_resident_leg_twilio_refuses_fails_the_call_and_releases_the_staff_member(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session]) -> None:
    _, call_id = place()
    fake.fail_next(400, 21215, f"Account not authorized to call {RESIDENT}")
    line = twilio(call_id)
    assert [el.tag for el in line.staff_answers()] == ["Hangup"]
    call = _call(sessions, call_id)
    assert (call.end, call.coded, call.hangup_cause) == (StaffCallEnd.FAILED, "failed", "twilio 21215")
    assert [el.tag for el in line.staff_answers()] == ["Hangup"]  # a replay: the same, nobody dialled
    assert len(fake.calls_created()) == 2


def test_a_call_twilio_refuses_to_place_is_a_clear_error(sessions: sessionmaker[Session], clock: VirtualClock,
                                                        line: TwilioStaffLine, fake: FakeTwilio) -> None:
    desk = _desk(sessions, clock, record=False)
    fake.fail_next(400, 21215, f"Account not authorized to call {STAFF_PHONE}")
    with session_scope(sessions) as s:
        task = s.get(FollowUpTask, desk.task_id)
        assert task is not None
        with pytest.raises(lines.StaffLineError, match="21215") as refused:
            lines.place(s, task, desk.staff, line, clock, VAULT, Questionnaires())
    assert STAFF_PHONE not in str(refused.value)  # Twilio's message, with the number masked


# -- replays and forgeries ----------------------------------------------------------------------


def test_replays_are_answered_alike_and_dial_the_resident_once(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session],
        clock: VirtualClock) -> None:
    _, call_id = place(record=True)
    line = twilio(call_id)
    first = [etree.tostring(line.staff_answers()), etree.tostring(line.staff_answers())]
    assert first[0] == first[1] and len(fake.calls_created()) == 2
    consent = [etree.tostring(line.resident_answers()), etree.tostring(line.resident_answers())]
    assert consent[0] == consent[1]
    bridged_at = clock.now()
    line.consent_heard()
    clock.advance(timedelta(seconds=30))
    line.consent_heard()
    line.resident_status("ringing")  # late and out of order
    call = _call(sessions, call_id)
    assert call.state == StaffCallState.TALKING and call.answered_at == bridged_at


def test_the_kept_replies_are_pruned_after_a_day(place: Place, twilio: Callable[[int], Twilio],
                                                 sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _, call_id = place(record=True)
    line = twilio(call_id)
    line.staff_answers()
    line.resident_answers()
    line.consent_heard()
    with sessions() as s:
        assert len(s.scalars(select(WebhookReply)).all()) == 3  # the staff leg's, the resident's two
    clock.advance(timedelta(hours=25))
    line.resident_status("completed", CallDuration="60")
    with sessions() as s:
        assert s.scalars(select(WebhookReply)).all() == []


def test_a_forged_or_unsigned_webhook_is_refused_and_changes_nothing(
        place: Place, twilio: Callable[[int], Twilio], urls: StaffCallUrls, home: Settings,
        sessions: sessionmaker[Session], fake: FakeTwilio) -> None:
    _, call_id = place()
    staff = twilio(call_id).staff()
    url = urls.answered(call_id, "staff")
    form = {"CallSid": staff.sid, "CallStatus": "in-progress"}
    assert staff.post(url, form, signature="forged=").status_code == 403
    assert staff.client.post(url[len(home.public_url):], data=form).status_code == 403
    status = urls.status(call_id, "staff")
    assert staff.post(status, {"CallSid": staff.sid, "CallStatus": "busy"}, signature="forged=").status_code == 403
    assert _call(sessions, call_id).state == StaffCallState.PLACED and len(fake.calls_created()) == 1


@pytest.mark.parametrize(("path", "query", "form", "code", "message"), [
    ("answered", "call={c}", {"CallStatus": "in-progress"}, 400, "query parameter leg must be one of"),
    ("answered", "call={c}&leg=resident", {"CallStatus": "in-progress"}, 409, "is not the resident leg"),
    ("status", "call={c}&leg=staff", {"CallStatus": "exploded"}, 400, "CallStatus 'exploded'"),
    ("status", "call=999&leg=staff", {"CallStatus": "ringing"}, 404, "no staff call 999"),
    ("recording", "call={c}", {"RecordingStatus": "completed"}, 400, "missing field RecordingSid"),
])
def test_a_request_the_webhooks_cannot_act_on_says_why(place: Place, twilio: Callable[[int], Twilio], home: Settings,
                                                       path: str, query: str, form: dict[str, str], code: int,
                                                       message: str) -> None:
    _, call_id = place()
    staff = twilio(call_id).staff()
    url = f"{home.public_url}/twilio/staff/{path}?{query.format(c=call_id)}"
    response = staff.post(url, {"CallSid": staff.sid, **form})
    assert response.status_code == code and message in response.get_data(as_text=True)


# -- listen-in ----------------------------------------------------------------------------------


def test_a_supervisor_listens_in_muted_on_a_bridged_call(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session],
        clock: VirtualClock, line: TwilioStaffLine, home: Settings) -> None:
    desk, call_id = place(record=False)
    calls = twilio(call_id)
    with session_scope(sessions) as s:  # not before the call is bridged
        supervisor, call = s.get(User, desk.supervisor_id), s.get(StaffCall, call_id)
        assert supervisor is not None and call is not None
        with pytest.raises(lines.StaffLineError, match="not in progress"):
            lines.listen(s, call, supervisor, line, clock)
    assert fake.participants_added() == []
    calls.staff_answers()
    calls.resident_answers()
    with session_scope(sessions) as s:
        supervisor, call = s.get(User, desk.supervisor_id), s.get(StaffCall, call_id)
        assert supervisor is not None and call is not None
        lines.listen(s, call, supervisor, line, clock)
    (joined,) = fake.participants_added()
    assert f"/Conferences/{conference_name(call_id)}/Participants.json" in joined.path
    assert (joined.one("To"), joined.one("Muted"), joined.one("StartConferenceOnEnter"),
            joined.one("EndConferenceOnExit")) == (SUPERVISOR_PHONE, "true", "false", "false")
    with sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "staff_call_listened")).one()
        assert (audit.user_id, audit.entity_id) == (desk.supervisor_id, str(call_id))


def test_hanging_up_from_the_console_ends_both_legs(place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio,
                                                   sessions: sessionmaker[Session], clock: VirtualClock,
                                                   line: TwilioStaffLine) -> None:
    desk, call_id = place(record=False)
    calls = twilio(call_id)
    calls.staff_answers()
    calls.resident_answers()
    with session_scope(sessions) as s:
        call = s.get(StaffCall, call_id)
        assert call is not None
        lines.hang_up(s, call, desk.staff, line, clock)
    call = _call(sessions, call_id)
    assert {u.path.rsplit("/", 1)[1] for u in fake.calls_updated()} == {
        f"{call.resident_ref}.json", f"{call.provider_ref}.json"}


# -- through the web app: the console's Call and the live view's Listen -------------------------


def test_the_console_calls_and_the_live_view_listens_in_through_twilio(
        sessions: sessionmaker[Session], clock: VirtualClock, home: Settings, fake: FakeTwilio,
        twiml_schema: etree.XMLSchema, urls: StaffCallUrls, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = _desk(sessions, clock, record=True)
    web = create_app(home, sessions, clock)
    web.config["WTF_CSRF_ENABLED"] = False
    context = web.extensions["minyi"]
    web.extensions[STAFF_EXTENSION] = build_staff_webhooks(context, context.vault, http_client=fake)
    for view in ("console", "live"):
        monkeypatch.setattr(f"web.blueprints.{view}.open_staff_line",
                            lambda name, settings: TwilioStaffLine(settings, http_client=fake))

    def login(username: str) -> FlaskClient:
        client = web.test_client()
        client.post(f"{home.public_url}/login", data={"username": username, "password": "a long password"})
        return client

    interviewer = login("zhang")
    assert interviewer.post(f"{home.public_url}/console/task/{desk.task_id}/call").status_code == 302
    with sessions() as s:
        call_id = s.scalars(select(StaffCall.id)).one()
    (staff_leg,) = fake.calls_created()
    assert staff_leg.one("To") == STAFF_PHONE
    calls = Twilio(web, home, twiml_schema, urls, sessions, call_id)
    calls.staff_answers()
    calls.resident_answers()
    calls.consent_heard()
    state = interviewer.get(f"{home.public_url}/console/task/{desk.task_id}/call.json").get_json()
    assert state["call"]["state"] == StaffCallState.TALKING
    shown = interviewer.get(f"{home.public_url}/console/task/{desk.task_id}")
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and mask(RESIDENT) in page
    assert RESIDENT[1:] not in page and "tel:" not in page  # the console never shows the number

    supervisor = login("li")
    assert supervisor.post(f"{home.public_url}/live/call/{call_id}/listen").status_code == 302
    (joined,) = fake.participants_added()
    assert (joined.one("To"), joined.one("Muted")) == (SUPERVISOR_PHONE, "true")
    assert conference_name(call_id) in joined.path
    with sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "staff_call_listened")).one()
        assert audit.user_id == desk.supervisor_id


def test_hanging_up_ends_the_legs_twilio_still_has(place: Place, twilio: Callable[[int], Twilio],
                                                   fake: FakeTwilio, sessions: sessionmaker[Session],
                                                   line: TwilioStaffLine) -> None:
    _, call_id = place(record=False)
    twilio(call_id).staff_answers()
    ref = lines.ref(_call(sessions, call_id))
    over = (400, 21220, "Call is not in-progress. Cannot redirect.")
    fake.fail_next(*over)
    assert line.hang_up(ref) is True  # the staff leg had ended already; the resident's is ended
    fake.fail_next(*over, times=2)
    assert line.hang_up(ref) is False  # Twilio has neither: the service ends the call itself
    fake.fail_next(401, 20003, "Authenticate", times=2)
    with pytest.raises(lines.StaffLineError, match="20003"):
        line.hang_up(ref)
    assert len(fake.calls_updated()) == 6


def test_a_call_twilio_no_longer_has_is_ended_from_the_console(
        place: Place, twilio: Callable[[int], Twilio], fake: FakeTwilio, sessions: sessionmaker[Session],
        clock: VirtualClock, line: TwilioStaffLine) -> None:
    desk, call_id = place(record=False)
    twilio(call_id).staff_answers()
    fake.fail_next(404, 20404, "The requested resource was not found", times=2)
    with session_scope(sessions) as s:
        call = s.get(StaffCall, call_id)
        assert call is not None
        lines.hang_up(s, call, desk.staff, line, clock)
    call = _call(sessions, call_id)
    assert (call.state, call.end) == (StaffCallState.ENDED, StaffCallEnd.CANCELLED)
