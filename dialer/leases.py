"""Leasing due cases to one worker, and taking back the leases of workers that died.

A lease is a row state (``LEASED``, ``lease_owner``, ``lease_expires_at``) taken in one short
transaction on the cases dialer/picking.py chose (on PostgreSQL locked with ``FOR UPDATE SKIP
LOCKED``, so concurrent workers pass each other's rows by); the conditional UPDATE (only rows
still dialable) makes the same code safe on SQLite, which has no row locks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from dialer.cases import DIALABLE, forget, reschedule
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from dialer.schedule import clamp_to_window
from survey.clock import Clock
from survey.models import CallAttempt, Case, Contact, Interview
from survey.vocabulary import ATTEMPT_ENDED, RESUMABLE, CallStatus, CaseStatus

_cases, _contacts = cast(Table, Case.__table__), Contact.__table__
_c = _cases.c
WORKER_LOST = "worker_lost"  # hang-up cause of a call whose worker died before it reported
LEASE_EXPIRED = "lease_expired"  # ... of a call nobody reported before its case's lease ran out


@dataclass(frozen=True)
class Leased:
    """A case just leased to a worker: what opening its attempt and placing its call need."""

    id: int
    survey_id: int
    stratum_id: int
    number_enc: bytes
    language: str | None
    contacted: bool


_LEASE = (update(_cases).where(_c.id.in_(bindparam("ids", expanding=True)), _c.status.in_(DIALABLE))
          .values(status=CaseStatus.LEASED, lease_owner=bindparam("owner"), lease_expires_at=bindparam("expires"),
                  attempts=_c.attempts + 1, updated_at=bindparam("now")))
_LEASED = (select(_c.id, _c.survey_id, _c.stratum_id, _contacts.c.number_enc, _c.language, _c.contacted)
           .join(_contacts, _contacts.c.id == _c.contact_id)
           .where(_c.id.in_(bindparam("ids", expanding=True)), _c.status == CaseStatus.LEASED,
                  _c.lease_owner == bindparam("owner")))


def lease(session: Session, ids: list[int], owner: str, now: datetime, lease_for: timedelta) -> list[Leased]:
    """Lease the picked cases to ``owner``; returns those it got, in the order picked. Core
    statements, not ORM objects: a worker leases thousands of cases an hour."""
    if not ids:
        return []
    session.flush()
    session.execute(_LEASE, {"ids": ids, "owner": owner, "expires": now + lease_for, "now": now})
    got = {row["id"]: Leased(**row) for row in session.execute(_LEASED, {"ids": ids, "owner": owner}).mappings()}
    forget(session, Case, got)
    return [got[case_id] for case_id in ids if case_id in got]


def reclaimable(session: Session, survey_id: int, now: datetime, lost: Collection[str] = ()) -> list[Case]:
    """Leased cases whose lease expired or whose worker died (``lost``: their owners)."""
    taken_back = Case.lease_expires_at < now
    if lost:
        taken_back = or_(taken_back, Case.lease_owner.in_(lost))
    return list(session.scalars(select(Case).where(
        Case.survey_id == survey_id, Case.status == CaseStatus.LEASED, taken_back)
        .with_for_update(skip_locked=True)).all())


def reap(session: Session, survey_id: int, clock: Clock, policy: DialPolicy, lost: Collection[str] = ()) -> int:
    """Take back expired leases, and at once those of dead workers (``lost``: their names; see
    dialer/workers.py): each attempt still open ends as ``unknown`` - or as what its interview
    shows, if the engine stored one - with a hang-up cause saying why, and the case is
    rescheduled by the ladder, so nothing is lost. Returns how many cases were taken back."""
    now = clock.now()
    cases = reclaimable(session, survey_id, now, lost)
    for case in cases:
        open_attempts = session.scalars(select(CallAttempt).where(
            CallAttempt.case_id == case.id, CallAttempt.status.not_in(ATTEMPT_ENDED))
            .order_by(CallAttempt.id)).all()
        for attempt in open_attempts:
            result = evidence(session, attempt, now, worker_lost=case.lease_owner in lost)
            apply_result(session, attempt.id, result, clock, policy=policy)
        if case.status == CaseStatus.LEASED:  # leased, but no call was ever recorded
            reschedule(case, clamp_to_window(policy, now), now)
    return len(cases)


def evidence(session: Session, attempt: CallAttempt, now: datetime, *, worker_lost: bool = False) -> CallResult:
    """What is known of a call whose result never came: its interview's status, if the engine
    stored one for this attempt, else ``unknown``. A dead worker's interview still in progress
    is ``unknown`` too: its call may go on in a restarted worker (Asterisk keeps the channel,
    and the new app adopts it), whose real result then replaces this one."""
    cause, why = (WORKER_LOST, "worker lost") if worker_lost else (LEASE_EXPIRED, "lease expired")
    interview = session.scalars(select(Interview).where(Interview.last_attempt_id == attempt.id)
                                .order_by(Interview.id.desc()).limit(1)).first()
    answered_at = (attempt.answered_at or attempt.started_at) if interview is not None else None
    if interview is None or (worker_lost and interview.status in RESUMABLE):
        return CallResult(CallStatus.UNKNOWN, attempt.started_at, now, answered_at=answered_at,
                          hangup_cause=cause, error=f"{why}: the call's end was not reported")
    return CallResult(CallStatus.ANSWERED, attempt.started_at, now, answered_at=answered_at,
                      interview_status=interview.status, hangup_cause=cause,
                      error=f"{why}: outcome taken from the interview")
