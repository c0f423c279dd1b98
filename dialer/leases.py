"""Leasing due cases to one worker, and taking back the leases of workers that died.

A lease is a row state (``LEASED``, ``lease_owner``, ``lease_expires_at``) taken in one short
transaction: on PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP LOCKED`` so
concurrent workers pass each other's rows by, and the conditional UPDATE (only rows still
dialable) makes the same code safe on SQLite, which ignores the locking clause.

Order of a pick: booked callbacks that are due, then per township (see quotas.allocate) retries
that are due before fresh numbers. Numbers on the do-not-call list are never picked.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, select, update
from sqlalchemy.orm import Session, selectinload

from dialer.cases import DIALABLE, schedule
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from dialer.quotas import Allotment
from dialer.schedule import clamp_to_window
from ivr.channels.base import CallResult, CallStatus
from survey.clock import Clock
from survey.models import AttemptStatus, CallAttempt, Case, CaseStatus, Contact, DoNotCall, Interview

_NOT_LISTED = ~exists().where(Contact.id == Case.contact_id, DoNotCall.number_hash == Contact.number_hash)


def _pick(session: Session, where: Select[tuple[int]], n: int) -> list[int]:
    stmt = where.order_by(Case.next_attempt_at, Case.id).limit(n).with_for_update(skip_locked=True, of=Case)
    return list(session.scalars(stmt).all())


def _due(survey_id: int, status: str, now: datetime) -> Select[tuple[int]]:
    return select(Case.id).where(Case.survey_id == survey_id, Case.status == status, Case.next_attempt_at <= now,
                                 _NOT_LISTED)


def pick(session: Session, survey_id: int, now: datetime, limit: int, allotments: list[Allotment]) -> list[int]:
    """Ids of up to ``limit`` due cases, locked for this transaction, in dialling order."""
    ids = _pick(session, _due(survey_id, CaseStatus.CALLBACK, now), limit)
    taken: Counter[int] = Counter()
    picked: dict[int, list[int]] = {}
    for bound in ("share", "cap"):
        for a in allotments:
            for status in (CaseStatus.SCHEDULED, CaseStatus.NEW):
                room = min(getattr(a, bound) - taken[a.stratum_id], limit - len(ids))
                if room <= 0:
                    break
                query = _due(survey_id, status, now).where(Case.stratum_id == a.stratum_id)
                if picked.get(a.stratum_id):
                    query = query.where(Case.id.not_in(picked[a.stratum_id]))
                got = _pick(session, query, room)
                ids += got
                picked.setdefault(a.stratum_id, []).extend(got)
                taken[a.stratum_id] += len(got)
    return ids


def lease(session: Session, ids: list[int], owner: str, now: datetime, lease_for: timedelta) -> list[Case]:
    """Lease the picked cases to ``owner``; returns those it got (with their contacts loaded)."""
    if not ids:
        return []
    session.execute(update(Case).where(Case.id.in_(ids), Case.status.in_(DIALABLE))
                    .values(status=CaseStatus.LEASED, lease_owner=owner, lease_expires_at=now + lease_for,
                            attempts=Case.attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False))
    cases = session.scalars(select(Case).options(selectinload(Case.contact)).where(
        Case.id.in_(ids), Case.status == CaseStatus.LEASED, Case.lease_owner == owner)
        .execution_options(populate_existing=True)).all()
    order = {case_id: i for i, case_id in enumerate(ids)}
    return sorted(cases, key=lambda c: order[c.id])


def expired(session: Session, survey_id: int, now: datetime) -> list[Case]:
    return list(session.scalars(select(Case).where(
        Case.survey_id == survey_id, Case.status == CaseStatus.LEASED, Case.lease_expires_at < now)
        .with_for_update(skip_locked=True)).all())


def reap(session: Session, survey_id: int, clock: Clock, policy: DialPolicy) -> int:
    """Take back expired leases (a worker crashed or lost its channel): each attempt still open
    ends as ``unknown`` - or as what its interview shows, if the engine stored one - and the case
    is rescheduled by the ladder, so nothing is lost. Returns how many cases were taken back."""
    now = clock.now()
    cases = expired(session, survey_id, now)
    for case in cases:
        open_attempts = session.scalars(select(CallAttempt).where(
            CallAttempt.case_id == case.id, CallAttempt.status.not_in(AttemptStatus.ENDED))
            .order_by(CallAttempt.id)).all()
        for attempt in open_attempts:
            apply_result(session, attempt.id, evidence(session, attempt, now), clock, policy=policy)
        if case.status == CaseStatus.LEASED:  # leased, but no call was ever recorded
            schedule(case, clamp_to_window(policy, now), now)
    return len(cases)


def evidence(session: Session, attempt: CallAttempt, now: datetime) -> CallResult:
    """What is known of a call whose result never came: its interview's status, if the engine
    stored one for this attempt, else ``unknown``."""
    interview = session.scalars(select(Interview).where(Interview.last_attempt_id == attempt.id)
                                .order_by(Interview.id.desc()).limit(1)).first()
    if interview is None:
        return CallResult(CallStatus.UNKNOWN, attempt.started_at, now, error="lease expired: worker lost the call")
    return CallResult(CallStatus.ANSWERED, attempt.started_at, now,
                      answered_at=attempt.answered_at or attempt.started_at, interview_status=interview.status,
                      error="lease expired: outcome taken from the interview")
