"""Every route × every role answers as it should (200/302/400/403/404), and no page a role can
open shows a full phone number (only the interviewer's open case does: see test_console)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from survey.vocabulary import TaskKind

ROLES = ("anonymous", "interviewer", "transcriber", "supervisor", "official", "official_t01", "unit_ps01", "admin")
OFFICIALS = ("official", "official_t01")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: dict[str, int]  # role -> status; other logged-in roles get ``others``
    others: int = 403
    anonymous: int = 302
    data: dict[str, str] = field(default_factory=dict)

    def expected(self, role: str) -> int:
        if role == "anonymous":
            return self.anonymous
        return self.allowed.get(role, self.others)


def every(code: int) -> dict[str, int]:
    return {r: code for r in ROLES if r != "anonymous"}


def only(code: int, *roles: str) -> dict[str, int]:
    return dict.fromkeys(roles, code)


SUP, INT, TRA, ADM, UNIT = "supervisor", "interviewer", "transcriber", "admin", "unit_ps01"


def routes(ids: dict[str, int], twilio_hooks: list[str]) -> list[Route]:
    t, c, s = ids["task"], ids["case"], ids["survey"]
    own, other = ids["own_concern"], ids["other_concern"]
    return [
        Route("GET", "/", every(302)),
        Route("GET", "/login", every(200), anonymous=200),
        Route("POST", "/login", every(401), anonymous=401, data={"username": "nobody", "password": "wrong wrong"}),
        Route("GET", "/lang/en", every(302), anonymous=302),
        Route("POST", "/logout", every(302)),
        # interviewers
        Route("GET", "/console/", only(200, INT)),
        Route("GET", "/console/f2f", only(200, INT)),
        Route("POST", "/console/f2f", only(200, INT), data={"number": "not a number"}),
        Route("POST", "/console/next", only(302, INT)),
        Route("GET", f"/console/task/{t}", only(403, INT)),  # a task nobody holds
        Route("GET", "/console/task/99999", only(404, INT)),
        *(Route("POST", f"/console/task/{t}/{action}", only(403, INT)) for action in (
            "start", "keys", "open-answer", "answer", "disposition", "release", "note", "concern", "revisit",
            "not-reached")),
        # transcribers (and supervisors)
        Route("GET", "/transcribe/", only(200, TRA, SUP)),
        Route("GET", "/transcribe/1", only(200, TRA, SUP)),
        Route("POST", "/transcribe/1", only(302, TRA, SUP), data={"transcription": "路灯不亮", "category": "theft"}),
        Route("GET", "/transcribe/1/audio", only(200, TRA, SUP)),
        Route("GET", "/transcribe/99999", only(404, TRA, SUP)),
        Route("POST", "/transcribe/1/concern", only(302, TRA, SUP)),
        # supervisors
        Route("GET", "/surveys/", only(200, SUP)),
        Route("POST", "/surveys/questionnaires", only(400, SUP)),
        Route("GET", "/surveys/questionnaires/1", only(200, SUP)),
        Route("GET", "/surveys/questionnaires/99", only(404, SUP)),
        Route("GET", "/surveys/new", only(200, SUP)),
        Route("POST", "/surveys/new", only(200, SUP)),
        Route("GET", f"/surveys/{s}", only(200, SUP)),
        Route("GET", "/surveys/99", only(404, SUP)),
        Route("POST", f"/surveys/{s}/status", only(302, SUP), data={"action": "pause"}),
        Route("POST", f"/surveys/{s}/quotas", only(302, SUP), data={"quota-T01": "9"}),
        Route("POST", f"/surveys/{s}/windows", only(302, SUP), data={"weekday": "18:00-21:00", "weekend": "9:00-21:00"}),
        Route("POST", f"/surveys/{s}/sample", only(400, SUP)),
        Route("GET", "/live/", only(302, SUP)),
        Route("GET", f"/live/{s}", only(200, SUP)),
        Route("GET", f"/live/{s}.json", only(200, SUP)),
        Route("GET", "/live/99.json", only(404, SUP)),
        Route("GET", "/cases/", only(200, SUP)),
        Route("GET", f"/cases/{c}", only(200, SUP)),
        Route("GET", "/cases/99999", only(404, SUP)),
        Route("POST", f"/cases/{c}/answer", only(400, SUP)),
        Route("POST", f"/cases/{c}/disposition", only(400, SUP)),
        Route("POST", f"/cases/{c}/callback", only(400, SUP)),
        # concerns: supervisors see all, a unit only its own (others are 404: not even their existence)
        Route("GET", "/concerns/", only(200, SUP, UNIT)),
        Route("GET", f"/concerns/{own}", only(200, SUP, UNIT)),
        Route("GET", f"/concerns/{other}", {SUP: 200, UNIT: 404}),
        Route("POST", f"/concerns/{own}/assign", only(400, SUP)),
        Route("POST", f"/concerns/{own}/start", only(302, UNIT)),
        Route("POST", f"/concerns/{other}/start", only(404, UNIT)),
        Route("POST", f"/concerns/{own}/note", only(302, UNIT), data={"note": "已联系"}),
        Route("POST", f"/concerns/{own}/resolve", only(302, UNIT), data={"note": "已解决"}),
        Route("POST", f"/concerns/{own}/revisit", only(302, SUP), data={"result": "fixed"}),
        # officials (and supervisors)
        Route("GET", "/dashboard/", only(200, SUP, *OFFICIALS)),
        Route("GET", f"/dashboard/{s}/export.csv", only(200, SUP, *OFFICIALS)),
        Route("GET", f"/dashboard/{s}/export.pdf", only(404, SUP, *OFFICIALS)),
        Route("GET", f"/dashboard/{s}/bulletin-zh.pdf", only(200, SUP, *OFFICIALS)),
        Route("GET", f"/dashboard/{s}/bulletin-fr.pdf", only(404, SUP, *OFFICIALS)),
        # administrators
        Route("GET", "/admin/users", only(200, ADM)),
        Route("GET", "/admin/users/new", only(200, ADM)),
        Route("POST", "/admin/users/new", only(200, ADM)),
        Route("GET", "/admin/users/1", only(200, ADM)),
        Route("GET", "/admin/users/999", only(404, ADM)),
        Route("GET", "/admin/units", only(200, ADM)),
        Route("POST", "/admin/units", only(200, ADM)),
        Route("GET", "/admin/audit", only(200, ADM)),
        # Twilio: no CSRF token, no session; a request without Twilio's signature is refused
        *(Route("POST", path, every(403), anonymous=403) for path in twilio_hooks),
        Route("GET", "/twilio/prompts/1/zh/no-such-prompt", every(404), anonymous=404),  # public audio for <Play>
    ]


def _routes(web) -> list[Route]:  # type: ignore[no-untyped-def]
    demo = web.demo
    ids = {"task": demo.tasks[TaskKind.PARTIAL][0], "case": demo.partial_case_id, "survey": demo.survey_id,
           "own_concern": demo.concerns["assigned"], "other_concern": demo.concerns["in_progress"]}
    hooks = [rule.rule for rule in web.app.url_map.iter_rules()
             if rule.endpoint.startswith("twilio.") and "POST" in rule.methods]
    return routes(ids, hooks)


def test_every_route_is_in_the_matrix(web) -> None:  # type: ignore[no-untyped-def]
    tried = [(r.method, r.path) for r in _routes(web)]
    for rule in web.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert any(m == method and _matches(rule.rule, path) for m, path in tried), \
                f"{method} {rule.rule} is not in the matrix"


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
def test_route_role_matrix_and_no_number_leaks(web, client, login, role: str) -> None:  # type: ignore[no-untyped-def]
    c = client if role == "anonymous" else login(role)
    if role == "anonymous":
        c.get("/login")
    numbers = [n for n in web.demo.numbers.values()] + [n[3:] for n in web.demo.numbers.values()]
    wrong = []
    for route in _routes(web):
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
