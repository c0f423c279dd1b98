"""Residents' concerns (群众诉求) and their handling, as a state machine.

受理 received → 交办 assigned (a unit and a deadline) → 办理中 in progress → 已办结 resolved (a note)
→ 已回访 revisited (a follow-up call asks the resident whether it was fixed). A concern can be
re-assigned while it is open, and re-opened (assigned again) when the revisit found it not fixed.
Every change writes a :class:`ConcernEvent` and an audit row; an illegal step raises
:class:`IllegalTransition` before anything is changed. Flask-free: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.followup import open_task
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Case, Concern, ConcernEvent, FollowUpTask, Unit
from survey.vocabulary import CONCERN_ZH, ConcernStatus, TaskKind, TaskStatus

S = ConcernStatus

CATEGORIES: dict[str, dict[str, str]] = {
    "theft": {"zh": "盗窃及财产安全", "en": "Theft and property"},
    "fraud": {"zh": "电信网络诈骗", "en": "Phone and online fraud"},
    "organised_crime": {"zh": "黑恶势力", "en": "Organised crime"},
    "vice": {"zh": "黄赌毒", "en": "Drugs, gambling, prostitution"},
    "traffic": {"zh": "道路交通秩序", "en": "Road traffic"},
    "disputes": {"zh": "邻里及家庭纠纷", "en": "Neighbour and family disputes"},
    "noise": {"zh": "噪声及环境扰民", "en": "Noise and nuisance"},
    "conduct": {"zh": "执法作风", "en": "Conduct of officers"},
    "other": {"zh": "其他", "en": "Other"},
}

FIXED, NOT_FIXED, UNREACHABLE = "fixed", "not_fixed", "unreachable"
REVISIT_RESULTS: dict[str, dict[str, str]] = {
    FIXED: {"zh": "已解决", "en": "Fixed"},
    NOT_FIXED: {"zh": "未解决", "en": "Not fixed"},
    UNREACHABLE: {"zh": "无法联系", "en": "Unreachable"},
}

OPEN = (S.ASSIGNED, S.IN_PROGRESS)  # the statuses with a running deadline

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "assign": ((S.RECEIVED, S.ASSIGNED, S.IN_PROGRESS, S.REVISITED), S.ASSIGNED),
    "start": ((S.ASSIGNED,), S.IN_PROGRESS),
    "note": ((S.ASSIGNED, S.IN_PROGRESS), S.IN_PROGRESS),
    "resolve": ((S.IN_PROGRESS,), S.RESOLVED),
    "revisit": ((S.RESOLVED,), S.REVISITED),
}


class ConcernError(Refused):
    """A concern change that cannot be made; the message says why."""


class IllegalTransition(ConcernError):
    """``action`` is not allowed while the concern is in ``status``; ``allowed`` lists where it is."""

    def __init__(self, concern_id: int, action: str, status: str, allowed: tuple[str, ...]) -> None:
        self.concern_id, self.action, self.status, self.allowed = concern_id, action, status, allowed
        names = "、".join(CONCERN_ZH[s] for s in allowed)
        super().__init__(f"concern #{concern_id} is {CONCERN_ZH[status]} ({status}): "
                         f"'{action}' is only possible from {names}")


def is_overdue(concern: Concern, now: datetime) -> bool:
    """Still open (assigned or in progress) past its deadline."""
    return concern.status in OPEN and concern.deadline is not None and concern.deadline < now


def allowed_actions(concern: Concern) -> list[str]:
    """The actions that may be taken now, in workflow order."""
    return [a for a, (sources, _) in TRANSITIONS.items() if _permits(concern, a, sources)]


def _permits(concern: Concern, action: str, sources: tuple[str, ...]) -> bool:
    if concern.status not in sources:
        return False
    return not (action == "assign" and concern.status == S.REVISITED and concern.revisit_result == FIXED)


def _check(concern: Concern, action: str) -> str:
    sources, target = TRANSITIONS[action]
    if not _permits(concern, action, sources):
        allowed = tuple(s for s in sources if s != S.REVISITED or concern.revisit_result != FIXED)
        raise IllegalTransition(concern.id, action, concern.status, allowed)
    return target


def _snapshot(concern: Concern) -> dict[str, Any]:
    return {"status": concern.status, "unit_id": concern.unit_id,
            "deadline": concern.deadline.isoformat(timespec="minutes") if concern.deadline else None,
            "category": concern.category, "resolution_note": concern.resolution_note,
            "revisit_result": concern.revisit_result}


def _log(session: Session, concern: Concern, clock: Clock, *, action: str, before: dict[str, Any],
         user_id: int | None, note: str) -> None:
    now = clock.now()
    concern.updated_at = now
    session.add(ConcernEvent(concern_id=concern.id, from_status=before["status"], to_status=concern.status,
                             user_id=user_id, note=note, at=now))
    old, new = audit.changed(before, _snapshot(concern))
    if note:
        new["note"] = note
    audit.record(session, clock, user_id=user_id, action=f"concern_{action}", entity="concern",
                 entity_id=concern.id, before=old or None, after=new or None)
    session.flush()


def receive(session: Session, clock: Clock, *, survey_id: int, stratum_id: int, category: str, summary: str,
            user_id: int | None, case_id: int | None = None, recording_id: int | None = None) -> Concern:
    """受理: a new concern from a transcription (``recording_id``) or an interviewer (``case_id``)."""
    if category not in CATEGORIES:
        raise ConcernError("unknown category %(category)r: choose one of %(choices)s", category=category,
                           choices=", ".join(CATEGORIES))
    if not summary.strip():
        raise ConcernError("a concern needs a summary of what the resident said")
    now = clock.now()
    concern = Concern(survey_id=survey_id, stratum_id=stratum_id, case_id=case_id, recording_id=recording_id,
                      category=category, summary=summary.strip(), status=S.RECEIVED, created_at=now,
                      updated_at=now)
    session.add(concern)
    session.flush()
    session.add(ConcernEvent(concern_id=concern.id, from_status=None, to_status=S.RECEIVED, user_id=user_id,
                             note="", at=now))
    audit.record(session, clock, user_id=user_id, action="concern_received", entity="concern",
                 entity_id=concern.id, after=_snapshot(concern) | {"case_id": case_id, "recording_id": recording_id})
    session.flush()
    return concern


def assign(session: Session, concern: Concern, clock: Clock, *, unit_id: int, deadline: datetime,
           user_id: int | None, note: str = "") -> None:
    """交办 to a responsible unit with a deadline (also re-assigns, or re-opens after a failed revisit)."""
    target = _check(concern, "assign")
    if session.get(Unit, unit_id) is None:
        raise ConcernError("no responsible unit with id %(unit)s", unit=unit_id)
    if deadline <= clock.now():
        raise ConcernError("the deadline must be in the future")
    before = _snapshot(concern)
    concern.status, concern.unit_id, concern.deadline = target, unit_id, deadline
    concern.resolved_at = None
    _log(session, concern, clock, action="assign", before=before, user_id=user_id, note=note.strip())


def start(session: Session, concern: Concern, clock: Clock, *, user_id: int | None, note: str = "") -> None:
    """办理中: the unit has taken the concern up."""
    before = _snapshot(concern)
    concern.status = _check(concern, "start")
    _log(session, concern, clock, action="start", before=before, user_id=user_id, note=note.strip())


def add_note(session: Session, concern: Concern, clock: Clock, *, user_id: int | None, note: str) -> None:
    """Record a step of the handling (a visit, a call); the concern is then in progress."""
    if not note.strip():
        raise ConcernError("the handling note is empty")
    before = _snapshot(concern)
    concern.status = _check(concern, "note")
    _log(session, concern, clock, action="note", before=before, user_id=user_id, note=note.strip())


def resolve(session: Session, concern: Concern, clock: Clock, *, user_id: int | None, note: str) -> None:
    """已办结 with a resolution note; the case gets a revisit task (回访) for the call centre."""
    target = _check(concern, "resolve")
    if not note.strip():
        raise ConcernError("say how the concern was resolved (办结情况)")
    before = _snapshot(concern)
    concern.status, concern.resolution_note, concern.resolved_at = target, note.strip(), clock.now()
    _log(session, concern, clock, action="resolve", before=before, user_id=user_id, note=note.strip())
    if concern.case_id is not None:
        _open_revisit_task(session, concern, clock)


def record_revisit(session: Session, concern: Concern, clock: Clock, *, user_id: int | None, result: str,
                   note: str = "") -> None:
    """已回访: what the resident said on the follow-up call; closes the revisit task when done."""
    target = _check(concern, "revisit")
    if result not in REVISIT_RESULTS:
        raise ConcernError("unknown revisit result %(result)r: choose one of %(choices)s", result=result,
                           choices=", ".join(REVISIT_RESULTS))
    before = _snapshot(concern)
    concern.status, concern.revisit_result = target, result
    _log(session, concern, clock, action="revisit", before=before, user_id=user_id, note=note.strip())
    if concern.case_id is not None and not awaiting_revisit(session, concern.case_id):
        _close_revisit_tasks(session, concern.case_id, clock)


def awaiting_revisit(session: Session, case_id: int) -> list[Concern]:
    """The case's resolved concerns whose resident has not been asked yet."""
    return list(session.scalars(select(Concern).where(Concern.case_id == case_id, Concern.status == S.RESOLVED)
                                .order_by(Concern.id)))


def _open_revisit_task(session: Session, concern: Concern, clock: Clock) -> None:
    case = session.get(Case, concern.case_id)
    assert case is not None
    open_task(session, survey_id=case.survey_id, case_id=case.id, kind=TaskKind.REVISIT, now=clock.now(),
              note=f"回访 concern #{concern.id}")


def _close_revisit_tasks(session: Session, case_id: int, clock: Clock) -> None:
    for task in session.scalars(select(FollowUpTask).where(
            FollowUpTask.case_id == case_id, FollowUpTask.kind == TaskKind.REVISIT,
            FollowUpTask.status.in_((TaskStatus.OPEN, TaskStatus.IN_PROGRESS)))):
        task.status, task.closed_at = TaskStatus.DONE, clock.now()
    session.flush()
