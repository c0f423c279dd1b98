"""Every route × every role × township scope answers as it should (200/302/400/403/404), and no
page a role can open shows a full phone number (only the interviewer's open case does: see
test_console).

The ``_t01`` accounts are limited to township T01: every by-id route is tried with an id of T01
and with one of another township (or of a survey without T01), which must answer 404 to them, as
an id that does not exist does. A route of the app missing from the matrix fails the test, and so
does a by-id route of township data without an out-of-scope probe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from jobs.queue import enqueue
from jobs.sample_import import KIND as SAMPLE_IMPORT
from jobs.sample_import import REJECTED
from survey.clock import VirtualClock
from survey.models import CallAttempt, Case, FollowUpTask, Job, StaffCall
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import AttemptStatus, JobStatus, StaffCallState, TaskKind, TaskStatus
from web.webhook_app import WEBHOOK_APP

ROLES = ("anonymous", "interviewer", "interviewer_t01", "transcriber", "transcriber_t01", "supervisor",
         "supervisor_t01", "official", "official_t01", "unit_ps01", "admin")
SUPS, INTS, TRAS = ("supervisor", "supervisor_t01"), ("interviewer", "interviewer_t01"), ("transcriber", "transcriber_t01")
OFFICIALS = ("official", "official_t01")
SCOPED_IDS = ("case_id", "recording_id", "concern_id", "survey_id", "call_id")  # converters of township data


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: dict[str, int]  # role -> status; other logged-in roles get ``others``
    others: int = 403
    anonymous: int = 302
    data: dict[str, str] = field(default_factory=dict)
    probe: bool = False  # the id in the path is out of the T01 scope

    def expected(self, role: str) -> int:
        if role == "anonymous":
            return self.anonymous
        return self.allowed.get(role, self.others)


def every(code: int) -> dict[str, int]:
    return {r: code for r in ROLES if r != "anonymous"}


def only(code: int, *roles: str) -> dict[str, int]:
    return dict.fromkeys(roles, code)


def outside(code: int, *roles: str) -> dict[str, int]:
    """``code`` for the roles' unlimited accounts; 404 for those limited to T01."""
    return {r: 404 if r.endswith("_t01") else code for r in roles}


def probe(method: str, path: str, code: int, *roles: str, **kwargs: object) -> Route:
    return Route(method, path, outside(code, *roles), probe=True, **kwargs)  # type: ignore[arg-type]


def whole(code: int) -> dict[str, int]:
    """A change to a whole survey round: not for a supervisor limited to some townships."""
    return {"supervisor": code, "supervisor_t01": 403}


ADM, UNIT = "admin", "unit_ps01"


def routes(ids: dict[str, int], twilio_hooks: list[str]) -> list[Route]:
    t, c, s, o = ids["task"], ids["case"], ids["survey"], ids["other_survey"]
    j, jo = ids["sample_job"], ids["other_sample_job"]
    c2, r1, r2 = ids["other_case"], ids["recording"], ids["other_recording"]
    sc1, sc2 = ids["staff_call"], ids["other_staff_call"]
    own, other, own_t02 = ids["own_concern"], ids["other_concern"], ids["own_concern_t02"]
    return [
        Route("GET", "/", every(302)),
        Route("GET", "/login", every(200), anonymous=200),
        Route("POST", "/login", every(401), anonymous=401, data={"username": "nobody", "password": "wrong wrong"}),
        Route("GET", "/lang/en", every(302), anonymous=302),
        Route("POST", "/logout", every(302)),
        # interviewers: a task is theirs only while they hold it, whatever its township
        Route("GET", "/console/", only(200, *INTS)),
        Route("GET", "/console/f2f", only(200, *INTS)),
        Route("POST", "/console/f2f", only(200, *INTS), data={"number": "not a number"}),
        Route("POST", "/console/next", only(302, *INTS)),
        Route("GET", f"/console/task/{t}", only(403, *INTS)),  # a task nobody holds
        Route("GET", "/console/task/99999", only(404, *INTS)),
        *(Route("POST", f"/console/task/{t}/{action}", only(403, *INTS)) for action in (
            "start", "keys", "open-answer", "answer", "disposition", "release", "note", "concern", "revisit",
            "not-reached", "call", "hang-up")),
        Route("GET", f"/console/task/{t}/call.json", only(403, *INTS)),
        # transcribers (and supervisors): recording r1 is of T01, r2 of T02
        Route("GET", "/transcribe/", only(200, *TRAS, *SUPS)),
        Route("GET", f"/transcribe/{r1}", only(200, *TRAS, *SUPS)),
        probe("GET", f"/transcribe/{r2}", 200, *TRAS, *SUPS),
        Route("POST", f"/transcribe/{r1}", only(302, *TRAS, *SUPS), data={"transcription": "路灯不亮", "category": "theft"}),
        probe("POST", f"/transcribe/{r2}", 302, *TRAS, *SUPS, data={"transcription": "路灯不亮", "category": "theft"}),
        Route("GET", f"/transcribe/{r1}/audio", only(200, *TRAS, *SUPS)),
        probe("GET", f"/transcribe/{r2}/audio", 200, *TRAS, *SUPS),
        Route("GET", "/transcribe/99999", only(404, *TRAS, *SUPS)),
        Route("POST", f"/transcribe/{r1}/concern", only(302, *TRAS, *SUPS)),
        probe("POST", f"/transcribe/{r2}/concern", 302, *TRAS, *SUPS),
        # administrators: recordings still at Twilio (scoped like the transcribers' list)
        Route("GET", "/admin/recordings/", only(200, ADM)),
        Route("POST", f"/admin/recordings/{r1}/retry", only(302, ADM)),
        probe("POST", f"/admin/recordings/{r2}/retry", 302, ADM),
        # supervisors: survey s has every township, survey o none of T01
        Route("GET", "/surveys/", only(200, *SUPS)),
        Route("POST", "/surveys/questionnaires", whole(302)),  # no file chosen: said on the surveys page
        Route("GET", "/surveys/questionnaires/1", only(200, *SUPS)),
        Route("GET", "/surveys/questionnaires/99", only(404, *SUPS)),
        Route("GET", "/surveys/new", whole(200)),
        Route("POST", "/surveys/new", whole(422)),  # an empty form: its problems are shown
        Route("GET", f"/surveys/{s}", only(200, *SUPS)),
        probe("GET", f"/surveys/{o}", 200, *SUPS),
        Route("GET", "/surveys/99", only(404, *SUPS)),
        Route("POST", f"/surveys/{s}/status", whole(302), data={"action": "pause"}),
        probe("POST", f"/surveys/{o}/status", 302, *SUPS, data={"action": "pause"}),
        Route("POST", f"/surveys/{s}/quotas", only(302, *SUPS), data={"quota-T01": "9"}),
        probe("POST", f"/surveys/{o}/quotas", 302, *SUPS, data={"quota-T09": "9"}),
        Route("POST", f"/surveys/{s}/windows", whole(302), data={"weekday": "18:00-21:00", "weekend": "9:00-21:00"}),
        probe("POST", f"/surveys/{o}/windows", 302, *SUPS, data={"weekday": "18:00-21:00", "weekend": "9:00-21:00"}),
        Route("POST", f"/surveys/{s}/fieldwork", whole(302)),  # no file chosen: said on the survey's page
        probe("POST", f"/surveys/{o}/fieldwork", 302, *SUPS),
        Route("POST", f"/surveys/{s}/inputs", whole(302)),  # no file chosen: said on the survey's page
        probe("POST", f"/surveys/{o}/inputs", 302, *SUPS),
        Route("POST", f"/surveys/{s}/sample", whole(400)),
        probe("POST", f"/surveys/{o}/sample", 400, *SUPS),
        *(r for tail in ("", ".json", "/rejected.csv") for r in (
            Route("GET", f"/surveys/{s}/sample/jobs/{j}{tail}", whole(200)),
            probe("GET", f"/surveys/{o}/sample/jobs/{jo}{tail}", 200, *SUPS),
            Route("GET", f"/surveys/{s}/sample/jobs/{jo}{tail}", {"supervisor": 404, "supervisor_t01": 403}))),
        Route("GET", "/live/", only(302, *SUPS)),
        Route("GET", f"/live/{s}", only(200, *SUPS)),
        probe("GET", f"/live/{o}", 200, *SUPS),
        Route("GET", f"/live/{s}.json", only(200, *SUPS)),
        probe("GET", f"/live/{o}.json", 200, *SUPS),
        Route("GET", "/live/99.json", only(404, *SUPS)),
        # listening in on a staff call: sc1 of T01 (over: refused, back to the live view), sc2 of T02
        Route("POST", f"/live/call/{sc1}/listen", only(302, *SUPS, ADM)),
        probe("POST", f"/live/call/{sc2}/listen", 302, *SUPS, ADM),
        Route("POST", "/live/call/99999/listen", only(404, *SUPS, ADM)),
        Route("GET", "/cases/", only(200, *SUPS)),
        Route("GET", f"/cases/{c}", only(200, *SUPS)),
        probe("GET", f"/cases/{c2}", 200, *SUPS),
        Route("GET", "/cases/99999", only(404, *SUPS)),
        *(r for action in ("answer", "disposition", "callback") for r in (
            Route("POST", f"/cases/{c}/{action}", only(302, *SUPS)),  # an empty form: back, saying what is wrong
            probe("POST", f"/cases/{c2}/{action}", 302, *SUPS))),
        # concerns: supervisors see their townships', a unit only its own (others are 404: not even
        # their existence); own and other are of T01 and T02, own_t02 is the unit's, of T02
        Route("GET", "/concerns/", only(200, *SUPS, UNIT)),
        Route("GET", f"/concerns/{own}", only(200, *SUPS, UNIT)),
        Route("GET", f"/concerns/{other}", outside(200, *SUPS) | {UNIT: 404}, probe=True),
        probe("GET", f"/concerns/{own_t02}", 200, *SUPS, UNIT),
        Route("POST", f"/concerns/{own}/assign", only(302, *SUPS)),
        probe("POST", f"/concerns/{other}/assign", 302, *SUPS),
        Route("POST", f"/concerns/{own}/start", only(302, UNIT)),
        Route("POST", f"/concerns/{other}/start", only(404, UNIT), probe=True),
        Route("POST", f"/concerns/{own}/note", only(302, UNIT), data={"note": "已联系"}),
        Route("POST", f"/concerns/{other}/note", only(404, UNIT), data={"note": "已联系"}, probe=True),
        Route("POST", f"/concerns/{own}/resolve", only(302, UNIT), data={"note": "已解决"}),
        Route("POST", f"/concerns/{other}/resolve", only(404, UNIT), data={"note": "已解决"}, probe=True),
        Route("POST", f"/concerns/{own}/revisit", only(302, *SUPS), data={"result": "fixed"}),
        probe("POST", f"/concerns/{other}/revisit", 302, *SUPS, data={"result": "fixed"}),
        # officials (and supervisors)
        Route("GET", "/dashboard/", only(200, *SUPS, *OFFICIALS)),
        Route("GET", f"/dashboard/{s}/export.csv", only(200, *SUPS, *OFFICIALS)),
        probe("GET", f"/dashboard/{o}/export.csv", 200, *SUPS, *OFFICIALS),
        Route("GET", f"/dashboard/{s}/export.pdf", only(404, *SUPS, *OFFICIALS)),
        Route("GET", f"/dashboard/{s}/bulletin-zh.pdf", only(200, *SUPS, *OFFICIALS)),
        # the other round has no population counts: back to the dashboard, which says so
        probe("GET", f"/dashboard/{o}/bulletin-zh.pdf", 302, *SUPS, *OFFICIALS),
        Route("GET", f"/dashboard/{s}/bulletin-fr.pdf", only(404, *SUPS, *OFFICIALS)),
        # administrators
        Route("GET", "/admin/users", only(200, ADM)),
        Route("GET", "/admin/users/new", only(200, ADM)),
        Route("POST", "/admin/users/new", only(200, ADM)),
        Route("GET", "/admin/users/1", only(200, ADM)),
        Route("GET", "/admin/users/999", only(404, ADM)),
        Route("GET", "/admin/units", only(200, ADM)),
        Route("POST", "/admin/units", only(200, ADM)),
        Route("GET", "/admin/audit", only(200, ADM)),
        Route("GET", "/admin/staff-calls", only(200, ADM)),
        Route("POST", "/admin/staff-calls", only(302, ADM), data={"provider": "", "tel_fallback": "y"}),
        # Twilio: no CSRF token, no session; a request without Twilio's signature is refused
        *(Route("POST", path, every(403), anonymous=403) for path in twilio_hooks),
        Route("GET", "/twilio/prompts/1/zh/no-such-prompt", every(404), anonymous=404),  # public audio for <Play>
    ]


@pytest.fixture
def other_survey(web) -> int:  # type: ignore[no-untyped-def]
    """A second round, in a township none of the demo accounts is limited to."""
    with web.sessions.begin() as session:
        survey = create_survey(session, "elsewhere", load_bundled(), VirtualClock(web.clock.now()), period="2026-11",
                               strata=[StratumSpec("T09", "外乡", "Elsewhere", quota=1)])
        return int(survey.id)


def _routes(web, other_survey: int) -> list[Route]:  # type: ignore[no-untyped-def]
    demo = web.demo
    with web.sessions() as session:
        t02_case = session.scalars(select(Case.id).where(Case.stratum_id == demo.strata["T02"])).first()
    ids = {"task": demo.tasks[TaskKind.PARTIAL][0], "case": demo.partial_case_id, "other_case": t02_case,
           "survey": demo.survey_id, "other_survey": other_survey,
           "recording": demo.recordings[0], "other_recording": demo.recordings[2],  # two per township
           "own_concern": demo.concerns["assigned"], "other_concern": demo.concerns["in_progress"],
           "own_concern_t02": demo.concerns["overdue"],
           "sample_job": _sample_job(web, demo.survey_id), "other_sample_job": _sample_job(web, other_survey),
           "staff_call": _staff_call(web, demo.partial_case_id), "other_staff_call": _staff_call(web, t02_case)}
    hooks = [rule.rule for rule in web.app.extensions[WEBHOOK_APP].url_map.iter_rules()
             if rule.endpoint.startswith("twilio.") and "POST" in rule.methods]
    return routes(ids, hooks)


def _staff_call(web, case_id: int) -> int:  # type: ignore[no-untyped-def]
    """A staff call on the case that is over (listening in on it is refused: it is not in progress)."""
    now, staff = web.clock.now(), web.demo.users["interviewer"]
    with web.sessions.begin() as session:
        case = session.get(Case, case_id)
        found = session.scalars(select(StaffCall).where(StaffCall.case_id == case_id)).first()
        if found is not None:
            return int(found.id)
        attempt = CallAttempt(case_id=case_id, survey_id=case.survey_id, channel="cati", worker=f"staff:{staff}",
                              status=AttemptStatus.COMPLETED, started_at=now)
        task = FollowUpTask(survey_id=case.survey_id, case_id=case_id, kind=TaskKind.PARTIAL, status=TaskStatus.DONE,
                            created_at=now)
        session.add_all([attempt, task])
        session.flush()
        call = StaffCall(attempt_id=attempt.id, task_id=task.id, case_id=case_id, staff_id=staff, provider="asterisk",
                         staff_endpoint="PJSIP/1001", state=StaffCallState.ENDED, placed_at=now, ended_at=now)
        session.add(call)
        session.flush()
        return int(call.id)


def _sample_job(web, survey_id: int) -> int:  # type: ignore[no-untyped-def]
    """A finished sample upload of the survey, with its rejected rows to download."""
    vault = web.app.extensions["minyi"].vault
    with web.sessions.begin() as session:
        job = session.scalars(select(Job).where(Job.survey_id == survey_id)).first()
        if job is None:
            job = enqueue(session, web.clock.now(), kind=SAMPLE_IMPORT, params={"file": "f.csv"}, user_id=None,
                          survey_id=survey_id, files={REJECTED: ("f.rejected.csv", vault.seal(b"number,reason\n"))})
            job.status, job.result = JobStatus.DONE, {"rows": 1, "imported": 0, "rejected": 1, "refused": False,
                                                      "reasons": {}, "errors": [], "by_township": {}, "released": {}}
        return int(job.id)


def test_every_route_is_in_the_matrix(web, other_survey: int) -> None:  # type: ignore[no-untyped-def]
    tried = [(r.method, r.path, r.probe) for r in _routes(web, other_survey)]
    for rule in [*web.app.url_map.iter_rules(), *web.app.extensions[WEBHOOK_APP].url_map.iter_rules()]:
        if rule.endpoint == "static":
            continue
        scoped = any(f":{name}>" in rule.rule for name in SCOPED_IDS)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert any(m == method and _matches(rule.rule, path) for m, path, _ in tried), \
                f"{method} {rule.rule} is not in the matrix"
            assert not scoped or any(m == method and _matches(rule.rule, path) and out for m, path, out in tried), \
                f"{method} {rule.rule} is not tried with an id out of the T01 scope"


def _matches(rule: str, path: str) -> bool:
    parts, given = rule.strip("/").split("/"), path.strip("/").split("/")
    if len(parts) != len(given):
        return False
    for want, got in zip(parts, given, strict=True):
        if want.startswith("<") or "<" in want:
            prefix, _, rest = want.partition("<")
            suffix = rest.partition(">")[2]
            if not (got.startswith(prefix) and got.endswith(suffix)):
                return False
        elif want != got:
            return False
    return True


@pytest.mark.parametrize("role", ROLES)
def test_route_role_matrix_and_no_number_leaks(web, client, login, other_survey: int,  # type: ignore[no-untyped-def]
                                               role: str) -> None:
    c = client if role == "anonymous" else login(role)
    if role == "anonymous":
        c.get("/login")
    numbers = [n for n in web.demo.numbers.values()] + [n[3:] for n in web.demo.numbers.values()]
    wrong = []
    for route in _routes(web, other_survey):
        if route.path == "/logout":
            continue  # checked last: it ends the session
        response = c.get(route.path) if route.method == "GET" else c.post(route.path, route.data)
        if response.status_code != route.expected(role):
            wrong.append(f"{route.method} {route.path}: {response.status_code}, expected {route.expected(role)}")
        if role == "anonymous" and response.status_code == 302 and not route.path.startswith("/lang/"):
            assert "/login" in response.headers["Location"], route.path
        body = response.get_data(as_text=True) if response.mimetype in ("text/html", "application/json") else ""
        leaked = [n for n in numbers if n in body]
        assert not leaked, f"{route.method} {route.path} shows a phone number to {role}"
    assert not wrong, "\n".join(wrong)
    if role != "anonymous":
        assert c.post("/logout").status_code == 302
        assert c.get("/dashboard/").status_code == 302
