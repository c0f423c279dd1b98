"""Leasing due cases to one worker, and taking back the leases of workers that died.

A lease is a row state (``LEASED``, ``lease_owner``, ``lease_expires_at``) taken in one short
transaction: on PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP LOCKED`` so
concurrent workers pass each other's rows by, and the conditional UPDATE (only rows still
dialable) makes the same code safe on SQLite, which ignores the locking clause.

Order of a pick: booked callbacks that are due, then per township (see quotas.allocate) retries
that are due before fresh numbers. Numbers on the do-not-call list are never picked. Fresh
numbers appear only when replicates are released (housekeeping) or a frame is imported, so a
township the last housekeeping saw without any is not asked for them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from dialer.cases import DIALABLE, forget, reschedule
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from dialer.quotas import Allotment
from dialer.schedule import clamp_to_window
from survey.clock import Clock
from survey.models import CallAttempt, Case, Contact, DoNotCall, Interview
from survey.vocabulary import ATTEMPT_ENDED, RESUMABLE, CallStatus, CaseStatus

# Built once from Core tables: a pick runs a query per township and status, and building ORM
# statements anew each time would cost more than running them.
_cases, _contacts, _dnc = cast(Table, Case.__table__), Contact.__table__, DoNotCall.__table__
_c = _cases.c
_DUE = (select(_c.id).where(
    _c.survey_id == bindparam("survey_id"), _c.status == bindparam("status"), _c.next_attempt_at <= bindparam("now"),
    ~exists().where(_contacts.c.id == _c.contact_id, _dnc.c.number_hash == _contacts.c.number_hash))
    .order_by(_c.next_attempt_at).limit(bindparam("n")).with_for_update(skip_locked=True, of=_cases))
_DUE_IN_STRATUM = _DUE.where(_c.stratum_id == bindparam("stratum_id"))
_RETRYING = select(_c.stratum_id).distinct().where(  # townships with a retry due: most have none at a time
    _c.survey_id == bindparam("survey_id"), _c.status == CaseStatus.SCHEDULED, _c.next_attempt_at <= bindparam("now"))
WORKER_LOST = "worker_lost"  # hang-up cause of a call whose worker died before it reported
LEASE_EXPIRED = "lease_expired"  # ... of a call nobody reported before its case's lease ran out
_DUE_IN_STRATUM_BUT = _DUE_IN_STRATUM.where(_c.id.not_in(bindparam("skip", expanding=True)))  # expanding: slower


def pick(session: Session, survey_id: int, now: datetime, limit: int, allotments: list[Allotment]) -> list[int]:
    """Ids of up to ``limit`` due cases, locked for this transaction, in dialling order."""
    due = {"survey_id": survey_id, "now": now}
    ids = list(session.execute(_DUE, {**due, "status": CaseStatus.CALLBACK, "n": limit}).scalars())
    taken: Counter[int] = Counter()
    picked: dict[int, list[int]] = defaultdict(list)
    retrying = set(session.execute(_RETRYING, due).scalars())
    dry = {(a.stratum_id, CaseStatus.SCHEDULED) for a in allotments if a.stratum_id not in retrying}  # nothing due
    for bound in ("share", "cap"):
        for a in allotments:
            for status in (CaseStatus.SCHEDULED, CaseStatus.NEW) if a.fresh else (CaseStatus.SCHEDULED,):
                room = min(getattr(a, bound) - taken[a.stratum_id], limit - len(ids))
                if room <= 0:
                    break
                if (a.stratum_id, status) in dry:
                    continue
                skip = picked[a.stratum_id]
                query, params = (_DUE_IN_STRATUM_BUT, {"skip": skip}) if skip else (_DUE_IN_STRATUM, {})
                got = list(session.execute(query, {**due, **params, "status": status, "n": room,
                                                   "stratum_id": a.stratum_id}).scalars())
                if len(got) < room:
                    dry.add((a.stratum_id, status))
                ids += got
                picked[a.stratum_id] += got
                taken[a.stratum_id] += len(got)
    return ids


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
