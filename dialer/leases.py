"""Leasing due cases to one worker, and taking back the leases of workers that died.

A lease is a row state (``LEASED``, ``lease_owner``, ``lease_expires_at``) taken in one short
transaction on the cases dialer/picking.py chose. On PostgreSQL one statement chooses them, locks
them with ``FOR UPDATE SKIP LOCKED`` (so concurrent workers pass each other's rows by), leases
them and returns what a call needs (dialer/pick_lease.py; :func:`lease` does the last three for
ids chosen elsewhere); SQLite has no row locks (its writers take the database in turn) and
no RETURNING from a joined table: a conditional UPDATE (only rows still dialable) returning the
number by a sub-select.
Rows another worker took meanwhile are left out, and the rest of the pick is chosen again
without them (:func:`lease_due`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, object_session

from dialer import pick_lease, picking
from dialer.cases import DIALABLE, forget, reschedule, status_is
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from dialer.quotas import Allotment
from dialer.schedule import clamp_to_window
from survey import driver_sql
from survey.clock import Clock
from survey.models import CallAttempt, Case, Contact, Interview
from survey.vocabulary import ATTEMPT_ENDED, RESUMABLE, AttemptStatus, CallStatus, CaseStatus

_cases, _contacts = cast(Table, Case.__table__), Contact.__table__
_c = _cases.c
WORKER_LOST = "worker_lost"  # hang-up cause of a call whose worker died before it reported
LEASE_EXPIRED = "lease_expired"  # ... of a call nobody reported before its case's lease ran out


class Leased(NamedTuple):
    """A case just leased to a worker: what opening its attempt and placing its call need (a named
    tuple rather than a frozen dataclass: a pick makes 100, in a third of the time)."""

    id: int
    survey_id: int
    stratum_id: int
    number_enc: bytes
    language: str | None
    contacted: bool


_ROUNDS = 5  # choices made again, at most, when other workers took chosen rows meanwhile
_LEASING = dict(status=CaseStatus.LEASED, lease_owner=bindparam("owner"), lease_expires_at=bindparam("expires"),
                attempts=_c.attempts + 1, updated_at=bindparam("now"))
_LEASED_COLUMNS = (_c.id, _c.survey_id, _c.stratum_id, _contacts.c.number_enc, _c.language, _c.contacted)
_FREE = (select(_c.id).where(_c.id.in_(bindparam("ids", expanding=True)), _c.status.in_(DIALABLE))
         .with_for_update(skip_locked=True).scalar_subquery())
_LOCK_AND_LEASE = (update(_cases).where(_c.id.in_(_FREE), _contacts.c.id == _c.contact_id).values(**_LEASING)
                   .returning(*_LEASED_COLUMNS))
_NUMBER = select(_contacts.c.number_enc).where(_contacts.c.id == _c.contact_id).scalar_subquery()
_LEASE = (update(_cases).where(_c.id.in_(bindparam("ids", expanding=True)), _c.status.in_(DIALABLE))
          .values(**_LEASING).returning(_c.id, _c.survey_id, _c.stratum_id, _NUMBER.label("number_enc"),
                                        _c.language, _c.contacted))


def lease_due(session: Session, survey_id: int, now: datetime, limit: int, allotments: Sequence[Allotment],
              owner: str, lease_for: timedelta) -> list[Leased]:
    """Pick up to ``limit`` due cases (dialer/picking.py) and lease them to ``owner``, in dialling
    order: on PostgreSQL in one statement (dialer/pick_lease.py), on SQLite a choice and a lease.
    Rows another worker took between the choice and the lease are passed by, and the rest of
    the pick chosen again without them, each township's share less what it got."""
    one_round = _pick_and_lease if session.get_bind().dialect.name == "postgresql" else _pick_then_lease
    skip: set[int] = set()
    got: list[Leased] = []
    for _ in range(_ROUNDS):
        ids, leased = one_round(session, survey_id, now, limit - len(got), allotments, owner, lease_for, skip)
        got += leased
        if len(leased) == len(ids):
            break
        skip |= set(ids) - {case.id for case in leased}
        allotments = _less(allotments, Counter(case.stratum_id for case in leased))
    return got


def _pick_then_lease(session: Session, survey_id: int, now: datetime, limit: int, allotments: Sequence[Allotment],
                     owner: str, lease_for: timedelta, skip: set[int]) -> tuple[list[int], list[Leased]]:
    ids = picking.pick(session, survey_id, now, limit, allotments, skip)
    return ids, lease(session, ids, owner, now, lease_for)


def _pick_and_lease(session: Session, survey_id: int, now: datetime, limit: int, allotments: Sequence[Allotment],
                    owner: str, lease_for: timedelta, skip: set[int]) -> tuple[list[int], list[Leased]]:
    session.flush()
    got = pick_lease.pick_and_lease(session, survey_id, now, limit, allotments, owner, lease_for, skip)
    leased = list(map(Leased._make, got.leased))
    forget(session, Case, (case.id for case in leased))
    return got.chosen, leased


def _less(allotments: Sequence[Allotment], taken: Counter[int]) -> list[Allotment]:
    return [a._replace(share=max(a.share - taken[a.stratum_id], 0), cap=max(a.cap - taken[a.stratum_id], 0))
            for a in allotments]


def lease(session: Session, ids: list[int], owner: str, now: datetime, lease_for: timedelta) -> list[Leased]:
    """Lease the picked cases to ``owner``; returns those it got, in the order picked (on
    PostgreSQL leaving out rows another transaction holds). Core statements, not ORM objects: a
    worker leases thousands of cases an hour."""
    if not ids:
        return []
    session.flush()
    params = {"ids": ids, "owner": owner, "expires": now + lease_for, "now": now}
    statement = _LOCK_AND_LEASE if session.get_bind().dialect.name == "postgresql" else _LEASE
    # Both return Leased's columns in its order: made positionally (on SQLite read straight from
    # the driver, survey/driver_sql.py: a lease per pick).
    got = {row[0]: Leased(*row) for row in driver_sql.rows(session, statement, params)}
    forget(session, Case, got)
    return [got[case_id] for case_id in ids if case_id in got]


def hold_adopted(attempt: CallAttempt, now: datetime, lease_for: Callable[[], timedelta]) -> bool:
    """A call taken back as ``unknown`` (its worker taken for dead) that goes on after all: a
    restarted app adopted its channel and carries on the interview. Its case, rescheduled by the
    takeover, is leased again to the call's worker until the real result comes (which settles
    it), so that no worker dials the resident meanwhile - unless the case was dialled again or
    closed since. True when it was."""
    case = attempt.case
    if attempt.status != AttemptStatus.UNKNOWN or case.status not in DIALABLE or attempt.worker is None:
        return False
    session = object_session(case)
    assert session is not None
    latest = session.scalar(select(func.max(CallAttempt.id)).where(CallAttempt.case_id == case.id))
    if latest != attempt.id:
        return False
    case.status, case.lease_owner, case.lease_expires_at, case.updated_at = (CaseStatus.LEASED, attempt.worker,
                                                                             now + lease_for(), now)
    return True


def reclaimable(session: Session, survey_id: int, now: datetime, lost: Collection[str] = ()) -> list[Case]:
    """Leased cases whose lease expired or whose worker died (``lost``: their owners)."""
    taken_back = Case.lease_expires_at < now
    if lost:
        taken_back = or_(taken_back, Case.lease_owner.in_(lost))
    return list(session.scalars(select(Case).where(
        Case.survey_id == survey_id, status_is(CaseStatus.LEASED), taken_back)
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
