"""Call attempts: opened for leased cases (what the channel is asked to dial), and moved forward
as an asynchronous channel reports progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import ReturningUpdate

from dialer.cases import release, resumable_interviews
from dialer.leases import Leased
from dialer.policy import DialPolicy
from dialer.protocol import CallRequest
from dialer.schedule import clamp_to_window
from survey import driver_sql
from survey.models import CallAttempt, Case
from survey.phones import PhoneVault
from survey.vocabulary import ATTEMPT_ENDED, ATTEMPT_ORDER, AttemptStatus, CaseStatus


@dataclass(frozen=True)
class Dial:
    """One call to place: the request for the channel, and the trunk it goes out on."""

    request: CallRequest
    trunk: str
    stratum_id: int


_attempts, _cases = cast(Table, CallAttempt.__table__), cast(Table, Case.__table__)
# RETURNING the case too: rows in any order let SQLite insert them with one statement.
_OPEN = insert(_attempts).returning(_attempts.c.case_id, _attempts.c.id)
_OPENED = ("case_id", "survey_id", "channel", "worker", "caller_id", "trunk", "status", "started_at")


def begin(session: Session, cases: list[Leased], trunks: list[str], caller_ids: list[str], *, now: datetime,
          owner: str, channel: str, vault: PhoneVault, ring_timeout_s: int) -> list[Dial]:
    """Open one attempt per leased case (same transaction as the lease, so a lease never exists
    without its attempt) and build the channel requests."""
    if not cases:
        return []
    # survey/driver_sql.py: on SQLite straight to the driver (a lease's attempts, every pick)
    attempt_ids: dict[int, int] = dict(driver_sql.insert_returning(session, _OPEN, _OPENED, [
        (case.id, case.survey_id, channel, owner, caller_id, trunk, AttemptStatus.QUEUED, now)
        for case, trunk, caller_id in zip(cases, trunks, caller_ids, strict=True)]))
    resumable = resumable_interviews(session, [case.id for case in cases if case.contacted])
    return [Dial(CallRequest(attempt_id=attempt_ids[case.id], case_id=case.id, interview_id=resumable.get(case.id),
                             number=vault.decrypt(case.number_enc), caller_id=caller_id, language=case.language,
                             ring_timeout_s=ring_timeout_s), trunk, case.stratum_id)
            for case, trunk, caller_id in zip(cases, trunks, caller_ids, strict=True)]


def _advance_to(status: str) -> ReturningUpdate[tuple[str, datetime | None]]:
    """The one UPDATE that moves an attempt to ``status`` from any status before it."""
    earlier = ATTEMPT_ORDER[:ATTEMPT_ORDER.index(status)]
    values: dict[str, object] = {"status": status}
    if status == AttemptStatus.IN_PROGRESS:
        values["answered_at"] = func.coalesce(_attempts.c.answered_at, bindparam("at"))
    return (update(_attempts).where(_attempts.c.id == bindparam("attempt_id"), _attempts.c.status.in_(earlier))
            .values(values).returning(_attempts.c.status, _attempts.c.answered_at))


_PROGRESS = ATTEMPT_ORDER[:-1]  # "completed" comes only with the result (outcomes.apply_result)
_ADVANCE: dict[str, ReturningUpdate[tuple[str, datetime | None]]] = {s: _advance_to(s) for s in _PROGRESS[1:]}


def advance(session: Session, attempt_id: int, status: str, at: datetime) -> bool:
    """Move an attempt forward (queued → initiated → ringing → in-progress) as a channel reports
    it; reports that arrive late or twice never move it back, nor an attempt that ended. Returns
    whether it moved. One UPDATE, no read before it; an attempt loaded in ``session`` is kept
    up to date."""
    if status not in _PROGRESS:
        raise ValueError(f"not a progress status: {status!r}")
    if status not in _ADVANCE:  # queued: never a move
        return False
    params: dict[str, object] = {"attempt_id": attempt_id, "at": at} if status == AttemptStatus.IN_PROGRESS \
        else {"attempt_id": attempt_id}
    moved = session.execute(_ADVANCE[status], params).one_or_none()
    if moved is None:
        return False
    loaded = session.identity_map.get(identity_key(CallAttempt, attempt_id))
    if loaded is not None:
        set_committed_value(loaded, "status", moved.status)
        set_committed_value(loaded, "answered_at", moved.answered_at)
    return True


def withdraw_if_held(session: Session, attempt_id: int, owner: str, now: datetime, policy: DialPolicy) -> bool:
    """:func:`withdraw`, if the attempt is still open and its case still leased to ``owner``: a
    worker that was taken for dead (frozen) must leave alone what the others took back."""
    attempt = session.get(CallAttempt, attempt_id, with_for_update=True)
    if attempt is None or attempt.status in ATTEMPT_ENDED or attempt.case.lease_owner != owner \
            or attempt.case.status != CaseStatus.LEASED:
        return False
    withdraw(session, attempt_id, now, policy)
    return True


def withdraw(session: Session, attempt_id: int, now: datetime, policy: DialPolicy) -> None:
    """Undo an attempt that was opened but never dialled (the window closed while it waited for
    its turn): it is deleted, not counted, and the case goes back in the queue for the next window."""
    attempt = session.get(CallAttempt, attempt_id)
    if attempt is None:
        raise LookupError(f"no call attempt {attempt_id}")
    case = attempt.case
    case.attempts = max(case.attempts - 1, 0)
    session.delete(attempt)
    release(case)
    case.status = CaseStatus.CALLBACK if case.callback_at else CaseStatus.SCHEDULED
    case.next_attempt_at = clamp_to_window(policy, now)
    case.updated_at = now


_GIVE_BACK_CASE = (update(_cases).where(_cases.c.id == bindparam("case_id"), _cases.c.status == CaseStatus.LEASED,
                                        _cases.c.lease_owner == bindparam("owner"))
                   .values(status=bindparam("was"), attempts=_cases.c.attempts - 1, lease_owner=None,
                           lease_expires_at=None, updated_at=bindparam("now")))
_DROP = delete(_attempts).where(_attempts.c.id.in_(bindparam("ids", expanding=True)),
                                _attempts.c.status == AttemptStatus.QUEUED)


def give_back(session: Session, held: list[tuple[int, int, str]], owner: str, now: datetime) -> None:
    """Undo leases taken ahead of their cases' due time and never dialled (``held``: attempt id,
    case id, the status before the lease): the attempts are deleted and each case is as it was
    before, due at the same time. Cases no longer leased to ``owner`` are left alone."""
    if not held:
        return
    session.execute(_DROP, {"ids": [attempt_id for attempt_id, _c, _s in held]})
    session.execute(_GIVE_BACK_CASE, [{"case_id": case_id, "was": was, "owner": owner, "now": now}
                                      for _a, case_id, was in held])
