"""Staff-placed calls in the web app: the console's Call and Hang-up buttons and the call's state
(polled as JSON), the number masked and the tel: link only where the centre allows it, the
administrator's settings and staff phones, and a supervisor's Listen action in the live view.
The provider is a recording stand-in (the Asterisk line itself is tested on the ARI fake)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select, update
from web_support import only_due

from calls import staff_lines
from calls.staff_lines import BridgeRequest, CallRef, ListenRequest
from survey.models import AuditLog, FollowUpTask, Recording, StaffCall, StaffCallPolicy, User
from survey.vocabulary import StaffCallEnd, StaffCallState, TaskStatus


@dataclass
class FakeLine:
    name: str = "asterisk"
    gone: bool = False  # the provider has none of the call's legs any more
    placed: list[BridgeRequest] = field(default_factory=list)
    hung_up: list[CallRef] = field(default_factory=list)
    listened: list[ListenRequest] = field(default_factory=list)

    def place(self, request: BridgeRequest) -> str:
        self.placed.append(request)
        return f"leg-{request.staff_call_id}"

    def hang_up(self, call: CallRef) -> bool:
        self.hung_up.append(call)
        return not self.gone

    def listen(self, request: ListenRequest) -> None:
        self.listened.append(request)


@pytest.fixture
def line(monkeypatch: pytest.MonkeyPatch) -> FakeLine:
    fake = FakeLine()
    monkeypatch.setattr("web.blueprints.console.open_staff_line", lambda name, settings: fake)
    monkeypatch.setattr("web.blueprints.live.open_staff_line", lambda name, settings: fake)
    return fake


def _policy(web, *, provider: str = "asterisk", tel_fallback: bool = False, record: bool = False) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        s.merge(StaffCallPolicy(id=1, provider=provider, record=record, tel_fallback=tel_fallback))
        for name, phone in (("interviewer", "PJSIP/1001"), ("supervisor", "PJSIP/2001")):
            s.execute(update(User).where(User.id == web.demo.users[name]).values(phone=phone))


def _take(web, login):  # type: ignore[no-untyped-def]
    only_due(web.sessions, web.demo.partial_task_id)
    c = login("interviewer")
    c.post("/console/next")
    return c, web.demo.partial_task_id


def _event(web, fn, call_id: int, *args: object) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        fn(s, call_id, web.clock, *args)


@pytest.mark.parametrize(("provider", "tel_fallback", "tel_shown"), [
    ("asterisk", False, False), ("asterisk", True, True), ("", False, True)])
def test_the_number_is_masked_unless_the_centre_allows_the_tel_link(web, login, provider: str, tel_fallback: bool,  # type: ignore[no-untyped-def]
                                                                    tel_shown: bool) -> None:
    _policy(web, provider=provider, tel_fallback=tel_fallback)
    c, task = _take(web, login)
    page = c.text(f"/console/task/{task}")
    number = web.demo.numbers[web.demo.partial_case_id]
    assert (f'href="tel:{number}"' in page, number in page) == (tel_shown, tel_shown)
    assert ('id="masked-number"' in page) == (not tel_shown)
    assert ('id="call-button"' in page) == bool(provider)


def test_call_places_the_call_shows_its_state_and_hangs_up(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    _policy(web)
    c, task = _take(web, login)
    response = c.post(f"/console/task/{task}/call")
    assert response.status_code == 302
    (request,) = line.placed
    assert request.staff_endpoint == "PJSIP/1001"
    assert request.resident_number == web.demo.numbers[web.demo.partial_case_id]
    assert (request.record, request.consent) == (False, None)
    state = c.get(f"/console/task/{task}/call.json").get_json()
    assert (state["call"]["state"], state["call"]["label"], state["done"]) == ("placed", "您的电话振铃中", False)
    page = c.text(c.post(f"/console/task/{task}/call").headers["Location"])  # a second call while one is live
    assert "此任务已有通话在进行" in page and len(line.placed) == 1
    assert 'id="call-form" hidden' in page and 'id="hang-up-form" hidden' not in page
    _event(web, staff_lines.resident_ringing, request.staff_call_id, "resident-leg")
    _event(web, staff_lines.resident_answered, request.staff_call_id)
    state = c.get(f"/console/task/{task}/call.json").get_json()
    assert (state["call"]["label"], state["call"]["live"]) == ("通话中", True)
    c.post(f"/console/task/{task}/hang-up")
    assert line.hung_up == [CallRef(request.staff_call_id, f"leg-{request.staff_call_id}", "resident-leg")]
    with web.sessions() as s:
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.entity == "staff_call")))
    assert actions == {"staff_call_placed", "staff_call_hung_up"}


def test_a_busy_resident_is_coded_and_the_page_goes_back_to_the_queue(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    _policy(web, record=True)
    c, task = _take(web, login)
    c.post(f"/console/task/{task}/call")
    (request,) = line.placed
    assert request.record and request.consent is not None
    assert (request.consent.key, request.consent.language) == ("msg/recording_consent", "zh")
    assert "录音" in request.consent.text
    _event(web, staff_lines.ended, request.staff_call_id, StaffCallEnd.BUSY, "17")
    state = c.get(f"/console/task/{task}/call.json").get_json()
    assert state["done"] and state["call"]["coded"] == "占线" and state["queue"] == "/console/"
    with web.sessions() as s:
        assert s.get(FollowUpTask, task).status == TaskStatus.DONE


def test_an_interviewer_cannot_call_or_watch_on_another_interviewers_task(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    _policy(web)
    c, task = _take(web, login)
    other = login("interviewer_t01")
    assert other.post(f"/console/task/{task}/call").status_code == 403
    assert other.get(f"/console/task/{task}/call.json").status_code == 403
    assert line.placed == []
    c.post(f"/console/task/{task}/call")
    assert other.get(f"/console/task/{task}/call.json").status_code == 403
    assert other.post(f"/console/task/{task}/hang-up").status_code == 403
    assert line.hung_up == []


def test_without_a_phone_the_interviewer_is_told_why(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    _policy(web)
    with web.sessions.begin() as s:
        s.execute(update(User).where(User.id == web.demo.users["interviewer"]).values(phone=""))
    c, task = _take(web, login)
    page = c.text(c.post(f"/console/task/{task}/call").headers["Location"])
    assert "您的电话尚未设置" in page and line.placed == []


def test_a_supervisor_listens_in_from_the_live_view(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    _policy(web)
    c, task = _take(web, login)
    c.post(f"/console/task/{task}/call")
    (request,) = line.placed
    call_id = request.staff_call_id
    supervisor = login("supervisor")
    snapshot = supervisor.get(f"/live/{web.demo.survey_id}.json").get_json()
    (live,) = snapshot["live_staff_calls"]
    assert live["listen"] is None  # not bridged yet: nothing to hear
    response = supervisor.post(f"/live/call/{call_id}/listen")
    assert response.status_code == 302 and line.listened == []
    _event(web, staff_lines.resident_answered, call_id)
    (live,) = supervisor.get(f"/live/{web.demo.survey_id}.json").get_json()["live_staff_calls"]
    assert live["listen"] == f"/live/call/{call_id}/listen" and live["state"] == "通话中"
    supervisor.post(live["listen"])
    (heard,) = line.listened
    assert (heard.supervisor_endpoint, heard.call.staff_call_id) == ("PJSIP/2001", call_id)
    with web.sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "staff_call_listened")).one()
        assert (audit.user_id, audit.entity_id) == (web.demo.users["supervisor"], str(call_id))
    assert c.post(f"/live/call/{call_id}/listen").status_code == 403  # not for interviewers


def test_the_administrator_sets_staff_calls_and_staff_phones(web, login) -> None:  # type: ignore[no-untyped-def]
    admin = login("admin")
    assert "访员外呼" in admin.text("/admin/staff-calls")
    admin.post("/admin/staff-calls", {"provider": "asterisk", "record": "y"})
    with web.sessions() as s:
        policy = s.get(StaffCallPolicy, 1)
        assert (policy.provider, policy.record, policy.tel_fallback) == ("asterisk", True, False)
        assert s.scalars(select(AuditLog.action).where(AuditLog.action == "staff_call_policy_set")).one()
    interviewer = web.demo.users["interviewer"]
    form = {"role": "interviewer", "township_scope": "", "unit_id": "0", "active": "y"}
    admin.post(f"/admin/users/{interviewer}", {**form, "phone": "PJSIP/1001"})
    page = admin.post(f"/admin/users/{interviewer}", {**form, "phone": "call me"}).get_data(as_text=True)
    assert "既不是 Asterisk 终端" in page
    with web.sessions() as s:
        assert s.get(User, interviewer).phone == "PJSIP/1001"
    assert "PJSIP/1001" in admin.text("/admin/staff-calls")


def test_the_state_of_a_call_moves_only_forward(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    """A late 'ringing' after the answer changes nothing (events may arrive out of order)."""
    _policy(web)
    c, task = _take(web, login)
    c.post(f"/console/task/{task}/call")
    (request,) = line.placed
    _event(web, staff_lines.resident_answered, request.staff_call_id)
    _event(web, staff_lines.resident_ringing, request.staff_call_id, "late-leg")
    _event(web, staff_lines.ended, request.staff_call_id, StaffCallEnd.COMPLETED, "16")
    _event(web, staff_lines.ended, request.staff_call_id, StaffCallEnd.BUSY, "17")  # a second report: ignored
    with web.sessions() as s:
        call = s.get(StaffCall, request.staff_call_id)
        assert (call.state, call.end, call.coded, call.hangup_cause) == (StaffCallState.ENDED, "completed", None, "16")
        assert s.get(FollowUpTask, task).status == TaskStatus.IN_PROGRESS  # the interviewer codes a talked call


def test_hanging_up_a_call_the_provider_no_longer_has_ends_it(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    """Its end was never reported (the app carrying it restarted): the console can call again."""
    _policy(web)
    c, task = _take(web, login)
    c.post(f"/console/task/{task}/call")
    line.gone = True
    c.post(f"/console/task/{task}/hang-up")
    state = c.get(f"/console/task/{task}/call.json").get_json()
    assert (state["call"]["state"], state["call"]["live"], state["done"]) == ("ended", False, False)
    c.post(f"/console/task/{task}/call")
    assert len(line.placed) == 2


def test_the_case_page_shows_its_staff_calls_and_plays_the_recording(web, login, line: FakeLine) -> None:  # type: ignore[no-untyped-def]
    _policy(web, record=True)
    c, task = _take(web, login)
    c.post(f"/console/task/{task}/call")
    (request,) = line.placed
    name = f"minyi-staffcall-{request.staff_call_id}-test"
    (Path(web.settings.recordings_dir) / f"{name}.wav").write_bytes(b"RIFF$\x00\x00\x00WAVE")
    _event(web, staff_lines.resident_answered, request.staff_call_id)
    with web.sessions.begin() as s:
        staff_lines.recorded(s, request.staff_call_id, web.clock, path=f"{name}.wav", provider_id=name, seconds=42.0)
    _event(web, staff_lines.ended, request.staff_call_id, StaffCallEnd.COMPLETED, "16")
    with web.sessions() as s:
        recording = s.scalars(select(Recording).where(Recording.staff_call_id == request.staff_call_id)).one()
    page = login("supervisor").text(f"/cases/{web.demo.partial_case_id}")
    assert 'id="staff-calls"' in page and "通话后挂断" in page
    assert f"/transcribe/{recording.id}/audio" in page
