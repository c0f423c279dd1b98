"""Every page of every role, rendered in Chinese on the populated demo county, shows people words:
no stored vocabulary value (``follow_up``, ``refusal_conversion``, ``in_progress`` ...), no audit
action identifier and no Python repr. Text marked ``translate="no"`` (user names, codes typed by
people) is data, not interface, and is left out. In English, no underscore identifier shows."""

from __future__ import annotations

import io
import re
from enum import StrEnum
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update
from web_support import Client, run_jobs

from survey import vocabulary
from survey.models import Concern, FollowUpTask, Interview, Recording, StaffCallPolicy, Survey
from survey.questionnaire import model as qm
from survey.vocabulary import TaskKind, TaskStatus
from web.labels import AUDIT_ACTIONS, ENTITIES, QUESTION_ROLES

INTERNAL = ({m.value for e in vars(vocabulary).values() if isinstance(e, type) and issubclass(e, StrEnum)
             and e is not StrEnum for m in e}
            | {qm.SINGLE, qm.MULTIPLE, qm.NUMBER, qm.YESNO, qm.OPEN, qm.MESSAGE} | set(AUDIT_ACTIONS)
            | set(ENTITIES) | set(QUESTION_ROLES) | {"hangup", "machine_household", "None", "True", "False"})
REPR = re.compile(r"\{'|<[\w.]+ object at|Condition\(|frozenset\(|datetime\.datetime\(|\bUTC\b")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
NOT_PAGES = {"static", "auth.set_language", "live.data", "transcribe.audio", "dashboard.bulletin", "dashboard.export",
             "home.index", "surveys.sample_job_state", "surveys.sample_rejects",
             "console.call_json"}  # files, JSON and redirects


class VisibleText(HTMLParser):
    """The text a person reads: text nodes, placeholders and titles, without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def _hidden(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        hidden = self._hidden() or tag in ("script", "style") or named.get("translate") == "no"
        if not hidden:
            self.parts += [v for k, v in attrs if k in ("placeholder", "title") and v]
        if tag not in VOID:
            self._stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden():
            self.parts.append(data)


def visible(page: str) -> str:
    parser = VisibleText()
    parser.feed(page)
    return " ".join(parser.parts)


FRAME = "电话,乡镇\n13912345678,T01\n+12025550123,T02\n95588,T01\n1391234567,T02\n".encode()


def _held_task(web, kind: str) -> int:  # type: ignore[no-untyped-def]
    """Hand the demo interviewer an open task of ``kind`` (the task page shows held tasks only)."""
    with web.sessions.begin() as s:
        task_id = web.demo.partial_task_id if kind == TaskKind.PARTIAL else s.scalars(select(FollowUpTask.id).where(
            FollowUpTask.kind == kind, FollowUpTask.status == TaskStatus.OPEN).order_by(FollowUpTask.id)).first()
        assert task_id, f"the demo county has no open {kind} task"
        s.execute(update(FollowUpTask).where(FollowUpTask.id == task_id).values(
            status=TaskStatus.IN_PROGRESS, assigned_to=web.demo.users["interviewer"]))
    return int(task_id)


def _sample_job(web, login, frame: bytes) -> str:  # type: ignore[no-untyped-def]
    """The page of a sample upload run to its end (a frame with rejected rows, or one that fails)."""
    upload = {"file": (io.BytesIO(frame or b"\x00not a frame"), "frame.csv" if frame else "frame.pdf"),
              "skip_invalid": "y"}
    url = login("supervisor").post(f"/surveys/{web.demo.survey_id}/sample", upload,
                                   content_type="multipart/form-data").headers["Location"]
    run_jobs(web)
    return str(url)


def pages(web, login) -> dict[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    """role -> (endpoint, URL) of each page the role works with, ids from the populated county."""
    with web.sessions() as s:
        survey = s.get(Survey, web.demo.survey_id)
        assert survey is not None
        concerns = s.scalars(select(Concern.id)).all()
        of_unit = s.scalars(select(Concern.id).where(Concern.unit_id == web.demo.units["PS01"])).all()
        recordings = s.scalars(select(Recording.id)).all()
        case_ids = s.scalars(select(Interview.case_id).distinct()).all()
        questionnaire = survey.questionnaire_id
    with web.sessions.begin() as s:  # the system places the calls: the console shows its call, not the number
        s.merge(StaffCallPolicy(id=1, provider="asterisk", record=True, tel_fallback=False))
    partial, revisit = _held_task(web, TaskKind.PARTIAL), _held_task(web, TaskKind.REVISIT)
    started = _held_task(web, TaskKind.REFUSAL_CONVERSION)
    login("interviewer").post(f"/console/task/{started}/start", {"mode": "cati"})
    sid = web.demo.survey_id
    done, failed = _sample_job(web, login, FRAME), _sample_job(web, login, b"")
    return {
        "": [("auth.login", "/login")],
        "interviewer": [("console.queue", "/console/"), ("console.f2f", "/console/f2f"),
                        *(("console.task", f"/console/task/{t}") for t in (partial, revisit, started))],
        "supervisor": [("surveys.index", "/surveys/"), ("surveys.detail", f"/surveys/{sid}"),
                       ("surveys.new", "/surveys/new"),
                       *(("surveys.sample_job", job) for job in (done, failed)),
                       ("surveys.questionnaire", f"/surveys/questionnaires/{questionnaire}"),
                       ("live.index", "/live/"), ("live.survey", f"/live/{sid}"), ("cases.index", "/cases/"),
                       *(("cases.index", f"/cases/?status={s}") for s in vocabulary.CaseStatus),
                       *(("cases.detail", f"/cases/{c}") for c in case_ids),
                       ("transcribe.index", "/transcribe/?show=all"),
                       ("concerns.index", "/concerns/"), *(("concerns.detail", f"/concerns/{c}") for c in concerns),
                       ("dashboard.index", "/dashboard/")],
        "transcriber": [("transcribe.index", "/transcribe/"),
                        *(("transcribe.recording", f"/transcribe/{r}") for r in recordings)],
        "official": [("dashboard.index", "/dashboard/")],
        "unit_ps01": [("concerns.index", "/concerns/"),
                      *(("concerns.detail", f"/concerns/{c}") for c in of_unit)],
        "admin": [("admin.users", "/admin/users"), ("admin.new_user", "/admin/users/new"),
                  *(("admin.edit_user", f"/admin/users/{u}") for u in web.demo.users.values()),
                  ("admin.units", "/admin/units"), ("admin.audit", "/admin/audit"),
                  ("admin.staff_calls", "/admin/staff-calls"),
                  ("downloads.index", "/admin/recordings/")],
    }


def _problems(text: str, words: set[str]) -> list[str]:
    found = sorted({w for w in WORD.findall(text) if w in words})
    return found + [m.group(0) for m in REPR.finditer(text)]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_page_of_every_role_shows_words_not_identifiers(web, login, language) -> None:  # type: ignore[no-untyped-def]
    walk = pages(web, login)
    pages_of_app = {rule.endpoint for rule in web.app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    unvisited = pages_of_app - NOT_PAGES - {endpoint for urls in walk.values() for endpoint, _ in urls}
    assert not unvisited, f"pages this test does not render yet: {sorted(unvisited)}"
    words = INTERNAL if language == "zh" else {w for w in INTERNAL if "_" in w}
    bad: dict[str, list[str]] = {}
    for user, urls in walk.items():
        c = login(user) if user else Client(web.app.test_client())
        if language == "en":
            c.get("/lang/en")
        for _, url in urls:
            response = c.get(url, follow_redirects=True)
            assert response.status_code == 200, f"{user} {url}: {response.status_code}"
            problems = _problems(visible(response.get_data(as_text=True)), words)
            if problems:
                bad[f"{user} {url}"] = problems
    assert not bad, "identifiers or reprs on the page:\n" + "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_the_checker_sees_a_raw_status_and_a_repr() -> None:
    page = '<p>状态 follow_up</p><p translate="no">admin</p><script>"final"</script><p>{\'a\': 1}</p>'
    assert _problems(visible(page), INTERNAL) == ["follow_up", "{'"]
