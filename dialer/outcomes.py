"""Call outcomes as AAPOR dispositions (Standard Definitions, 10th edition): two tables and the
function that applies a channel's :class:`CallResult` to an attempt and its case.

``OUTCOMES`` maps what happened on one call to a temporary disposition and what to do next; a
case that runs out of attempts gets its final code from :mod:`dialer.final_codes`.

Conventions decided here:

* "Contacted" means a person answered, which confirms a household; an answering machine on a
  confirmed household is 2.22, otherwise 3.14.
* A hang-up during the introduction (answered, no interview status) is a soft household refusal
  (2.11) that is retried in another day-part; an explicit refusal is final.
* The engine's ``partial`` (dropped part-way, resumable) is 1.2 and is redialled to resume; the
  engine decides what counts as enough answers for a partial.
* What goes to staff (console tasks, :func:`dialer.followup.open_task`) is decided here, for
  every channel: an operator request at once; and a case out of attempts whose final code would
  be 1.2 (partial) or 2.11 (soft refusals: hang-ups in the introduction; an explicit refusal is
  final at once) goes to staff once instead, if the survey's ``retry_policy`` says so
  (``staff_partials``, ``refusal_conversion_hours``; both on by default): a partial to finish in
  CATI now, a refusal to convert after the cooling-off delay. A second time the case is final.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple, cast

from sqlalchemy import Table, Update, bindparam, func, select
from sqlalchemy.orm import Session

from dialer.cases import case_attempts, case_history, finalise, forget, release, reschedule, schedule_callback
from dialer.dnc import add_to_dnc
from dialer.final_codes import NEVER_AVAILABLE, resolve_final, summaries
from dialer.followup import open_task
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from dialer.quotas import fill_if_met
from dialer.schedule import ScheduleError, clamp_to_window, next_attempt
from survey import aapor as A
from survey import driver_sql
from survey.clock import Clock
from survey.models import CallAttempt, Case, Contact, FollowUpTask, Interview, Survey
from survey.vocabulary import (
    ATTEMPT_ENDED,
    CALL_STATUSES,
    AttemptStatus,
    CallStatus,
    CaseStatus,
    InterviewStatus,
    TaskKind,
)


class Action:
    FINAL = "final"  # the temporary code is the final code
    RETRY = "retry"  # try again by the named retry rule (or at the callback time asked for)
    OPT_OUT = "opt_out"  # do-not-call, then final
    FOLLOW_UP = "follow_up"  # hand the case to staff


@dataclass(frozen=True)
class Outcome:
    temp: str
    action: str
    rule: str | None = None
    contact: bool = False


I = InterviewStatus  # noqa: E741 - the table below reads better with short names
S = CallStatus

OUTCOMES: dict[str, Outcome] = {
    # Answered: keyed by the interview status the engine reported.
    I.COMPLETE: Outcome(A.COMPLETE, Action.FINAL, contact=True),
    I.PARTIAL: Outcome(A.PARTIAL, Action.RETRY, "partial", contact=True),
    I.IN_PROGRESS: Outcome(A.PARTIAL, Action.RETRY, "partial", contact=True),
    I.BREAK_OFF: Outcome(A.BREAK_OFF, Action.FINAL, contact=True),
    I.REFUSED: Outcome(A.REFUSAL, Action.FINAL, contact=True),
    I.OPTED_OUT: Outcome(A.REFUSAL, Action.OPT_OUT, contact=True),
    I.SCREENED_OUT: Outcome(A.NOT_ELIGIBLE, Action.FINAL, contact=True),
    I.OPERATOR: Outcome(A.OTHER_CONTACTED, Action.FOLLOW_UP, contact=True),
    I.CALLBACK: Outcome(NEVER_AVAILABLE, Action.RETRY, "hangup", contact=True),
    "hangup": Outcome(A.REFUSAL, Action.RETRY, "hangup", contact=True),
    # Not answered by a person: keyed by the call status.
    S.BUSY: Outcome(A.BUSY, Action.RETRY, "busy"),
    S.NO_ANSWER: Outcome(A.NO_ANSWER, Action.RETRY, "no_answer"),
    S.MACHINE: Outcome(A.MACHINE_UNKNOWN, Action.RETRY, "machine"),
    "machine_household": Outcome(A.MACHINE_HOUSEHOLD, Action.RETRY, "machine"),
    S.FAX: Outcome(A.FAX, Action.FINAL),
    S.NON_WORKING: Outcome(A.NON_WORKING, Action.FINAL),
    S.FAILED: Outcome(A.TECHNICAL, Action.RETRY, "failed"),
    S.CANCELED: Outcome(A.TECHNICAL, Action.RETRY, "failed"),
    S.UNKNOWN: Outcome(A.UNKNOWN_OTHER, Action.RETRY, "unknown"),
}

ATTEMPT_STATUS: dict[str, AttemptStatus] = {
    S.ANSWERED: AttemptStatus.COMPLETED, S.MACHINE: AttemptStatus.COMPLETED, S.FAX: AttemptStatus.COMPLETED,
    S.BUSY: AttemptStatus.BUSY, S.NO_ANSWER: AttemptStatus.NO_ANSWER, S.NON_WORKING: AttemptStatus.FAILED,
    S.FAILED: AttemptStatus.FAILED, S.CANCELED: AttemptStatus.CANCELED, S.UNKNOWN: AttemptStatus.UNKNOWN,
}


def outcome_key(result: CallResult, contacted: bool) -> str:
    if result.status not in CALL_STATUSES:
        raise ValueError(f"unknown call status {result.status!r}")
    if result.status == S.ANSWERED:
        if result.interview_status is None:
            return "hangup"
        if result.interview_status not in OUTCOMES:
            raise ValueError(f"unknown interview status {result.interview_status!r}")
        return result.interview_status
    if result.status == S.MACHINE and contacted:
        return "machine_household"
    return result.status


def classify(result: CallResult, contacted: bool) -> Outcome:
    return OUTCOMES[outcome_key(result, contacted)]


@dataclass(frozen=True)
class Applied:
    """What applying a result did: the attempt's code, and the case's state afterwards."""

    attempt_id: int
    temp: str
    case_status: str
    final: str | None
    next_attempt_at: datetime | None


def accepts(attempt: CallAttempt | _Attempt, result: CallResult) -> bool:
    """A final result lands once; a reconciled (unknown) attempt still takes the real result
    when it arrives late, but nothing replaces a real result."""
    if attempt.status not in ATTEMPT_ENDED:
        return True
    return attempt.status == AttemptStatus.UNKNOWN and result.status != S.UNKNOWN


def apply_result(session: Session, attempt_id: int, result: CallResult, clock: Clock, *,
                 policy: DialPolicy | None = None) -> Applied | None:
    """Record ``result`` on the attempt and move its case on. Returns None when the result was
    already applied or arrives after another final result (idempotent, never backwards).

    A result changes the case only while the case is open and the attempt is its latest one;
    a late result for an older attempt may still finalise the case (a complete, a non-working
    number, an opt-out) but never reschedules it."""
    return apply_results(session, [(attempt_id, result)], clock, policy=policy)[0]


# Applying results reads and writes rows with Core statements, a few per batch whatever its
# size: a worker settles thousands of calls an hour, and ORM objects cost more than the SQL.
_attempts, _cases = cast(Table, CallAttempt.__table__), cast(Table, Case.__table__)


@dataclass
class _Attempt:
    """An attempt row as read (the first four fields), and as :func:`_record` leaves it."""

    id: int
    status: str
    started_at: datetime
    provider_call_id: str | None
    outcome: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    amd_result: str | None = None
    hangup_cause: str | None = None
    error: str | None = None
    temp_disposition: str | None = None


@dataclass
class _Case:
    """A case row as read, and as the moves below leave it (the fields after ``attempts``)."""

    id: int
    survey_id: int
    stratum_id: int
    contact_id: int
    attempts: int
    status: str
    contacted: bool
    last_temp_disposition: str | None
    next_attempt_at: datetime | None
    callback_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    final_disposition: str | None
    final_at: datetime | None
    updated_at: datetime


_MOVED = tuple(f.name for f in fields(_Case))[5:]  # what moving a case changes
_RECORDED = tuple(f.name for f in fields(_Attempt))[1:]
_ATTEMPT_READ = tuple(f.name for f in fields(_Attempt)[:4])  # the fields read; the rest are recorded
_CASE_READ = tuple(f.name for f in fields(_Case))
_READ = (select(*(_attempts.c[name].label(f"a_{name}") for name in _ATTEMPT_READ),
                *(_cases.c[name].label(f"c_{name}") for name in _CASE_READ))
         .join(_cases, _cases.c.id == _attempts.c.case_id)
         .where(_attempts.c.id.in_(bindparam("ids", expanding=True))).order_by(_cases.c.id)
         .with_for_update(of=(_attempts, _cases)))
_WRITE_ATTEMPT = (_attempts.update().where(_attempts.c.id == bindparam("row_id"))
                  .values({name: bindparam(f"v_{name}") for name in _RECORDED}))
_TASKS_HELD = (select(FollowUpTask.case_id, FollowUpTask.kind)
               .where(FollowUpTask.case_id.in_(bindparam("ids", expanding=True)),
                      FollowUpTask.kind.in_((TaskKind.PARTIAL, TaskKind.REFUSAL_CONVERSION))))
_LATEST_INTERVIEWS = (select(Interview.case_id, func.max(Interview.id))
                      .where(Interview.case_id.in_(bindparam("ids", expanding=True))).group_by(Interview.case_id))
_WRITE_CASE = (_cases.update().where(_cases.c.id == bindparam("row_id"))
               .values({name: bindparam(f"v_{name}") for name in _MOVED}))


def apply_results(session: Session, results: Sequence[tuple[int, CallResult]], clock: Clock, *,
                  policy: DialPolicy | None = None, settled_at: Sequence[datetime] | None = None) -> list[Applied | None]:
    """:func:`apply_result` for a batch (a worker's calls): the attempts and cases are read and
    locked together, in case order, and written with one statement each per batch.
    ``settled_at``: for each result, the moment it counts as settled (default: now), so that a
    virtual clock's worker may store results of several moments at once (dialer/run_ahead.py)."""
    now = clock.now()
    times = list(settled_at) if settled_at is not None else [now] * len(results)
    settlement = _Settlement(session, [attempt_id for attempt_id, _ in results], now, policy)
    for (attempt_id, result), at in zip(results, times, strict=True):
        settlement.apply(attempt_id, result, at)
    settlement.write()
    return settlement.applied


class _Settlement:
    """One batch of results: its rows read once, moved in memory in the order of the results,
    then written, followed by what the moves imply (do-not-call, staff tasks, filled quotas)."""

    def __init__(self, session: Session, attempt_ids: list[int], now: datetime, policy: DialPolicy | None) -> None:
        session.flush()  # the caller's pending changes are part of what is read
        self.session, self.now, self._policy = session, now, policy
        self.attempts, self.cases = _read(session, attempt_ids)
        self.history = _histories(session, {case.id for case in self.cases.values()})
        self.applied: list[Applied | None] = []  # one per result, in order
        self.recorded: dict[int, _Attempt] = {}
        self.moved: dict[int, _Case] = {}
        self.completes: dict[int, datetime] = {}  # strata with a new complete: when the last came
        self.opted_out: list[tuple[_Case, datetime]] = []
        self.to_staff: list[tuple[_Case, datetime]] = []
        # out of attempts (index in applied, case, when): the final rules code them
        self.exhausted: list[tuple[int, _Case, datetime]] = []
        self._policies: dict[int, DialPolicy] = {}

    def apply(self, attempt_id: int, result: CallResult, at: datetime) -> None:
        self.now = at
        attempt, case = self.attempts[attempt_id], self.cases[attempt_id]
        if not accepts(attempt, result):
            self.applied.append(None)
            return
        outcome = _record(attempt, result, case)
        self.recorded[attempt.id] = attempt
        latest = self.history[case.id][-1][0] == attempt.id
        if case.status != CaseStatus.FINAL and (latest or outcome.action in (Action.FINAL, Action.OPT_OUT)):
            self._move(case, attempt, result, outcome)
        elif case.status == CaseStatus.FINAL and latest:
            self._note(case, outcome)
        self.applied.append(_applied(attempt.id, outcome.temp, case))

    def _note(self, case: _Case, outcome: Outcome) -> None:
        """A case closed while its latest call was on (an opt-out puts the number on the
        do-not-call list, which closes the case, before the call ends) keeps its final code, and
        still records that call: whether a person answered, and the call's code."""
        case.contacted = case.contacted or outcome.contact
        case.last_temp_disposition = outcome.temp
        case.updated_at = self.now
        self.moved[case.id] = case

    def _move(self, case: _Case, attempt: _Attempt, result: CallResult, outcome: Outcome) -> None:
        case.contacted = case.contacted or outcome.contact
        case.last_temp_disposition = outcome.temp
        case.updated_at = self.now
        self.moved[case.id] = case
        if outcome.action in (Action.FINAL, Action.OPT_OUT):
            finalise(case, outcome.temp, self.now)  # an opt-out is a refusal (2.11), as do-not-call codes it
            if outcome.temp == A.COMPLETE:
                self.completes[case.stratum_id] = self.now
            if outcome.action == Action.OPT_OUT:
                self.opted_out.append((case, self.now))
        elif outcome.action == Action.FOLLOW_UP:
            _with_staff(case)
            self.to_staff.append((case, self.now))
        elif not self._retry(case, attempt, result, outcome):
            self.exhausted.append((len(self.applied), case, self.now))

    def _retry(self, case: _Case, attempt: _Attempt, result: CallResult, outcome: Outcome) -> bool:
        """Book the callback or the next attempt; False when the case has no attempt left."""
        policy = self.policy(case.survey_id)
        after = max(self.now, result.ended_at)
        callback = _callback_wanted(case, attempt, result, policy, after)
        if callback is not None:
            schedule_callback(case, callback, self.now)
            return True
        assert outcome.rule is not None
        starts = [self.recorded[i].started_at if i in self.recorded else start for i, start in self.history[case.id]]
        when = next_attempt(policy, policy.retry.rules[outcome.rule], after, case_history(starts, policy.calendar))
        if when is None:
            return False
        reschedule(case, when, self.now)
        return True

    def policy(self, survey_id: int) -> DialPolicy:
        if self._policy is not None:
            return self._policy
        if survey_id not in self._policies:
            survey = self.session.get(Survey, survey_id)
            assert survey is not None  # a foreign key
            self._policies[survey_id] = DialPolicy.from_survey(survey)
        return self._policies[survey_id]

    def write(self) -> None:
        s = self.session
        forget(s, CallAttempt, _write(s, _WRITE_ATTEMPT, _RECORDED, self.recorded.values()))
        if self.exhausted:
            views = summaries(s, [case for _i, case, _at in self.exhausted])  # every attempt's code is written
            held = {(case_id, kind) for case_id, kind in
                    s.execute(_TASKS_HELD, {"ids": [case.id for _i, case, _at in self.exhausted]})}
            to_staff: list[_StaffTask] = []
            for i, case, at in self.exhausted:
                code = resolve_final(views[case.id])
                task = self._second_chance(case, code, at, held)
                if task is None:
                    finalise(case, code, at)
                else:
                    to_staff.append(task)
                done = self.applied[i]
                assert done is not None
                self.applied[i] = _applied(done.attempt_id, done.temp, case)
            _hand_to_staff(s, to_staff)
        forget(s, Case, _write(s, _WRITE_CASE, _MOVED, self.moved.values()))
        for case, at in self.opted_out:
            number_hash = s.scalar(select(Contact.number_hash).where(Contact.id == case.contact_id))
            assert number_hash is not None  # a foreign key
            add_to_dnc(s, number_hash, "ivr_opt_out", case.survey_id, now=at)
        _hand_to_staff(s, [_StaffTask(case, TaskKind.OPERATOR, at) for case, at in self.to_staff])
        if self.completes:
            fill_if_met(s, self.completes, max(self.completes.values()))

    def _second_chance(self, case: _Case, code: str, now: datetime, held: set[tuple[int, str]]) -> _StaffTask | None:
        """Hand a case out of attempts to staff instead of finalising it with ``code``, once per
        case and kind (see the module's conventions; ``held``: the (case, kind) of the tasks
        the cases have had, taken up as they get more); the task to open, None when it is final."""
        retry = self.policy(case.survey_id).retry
        if code == A.PARTIAL and retry.staff_partials:
            kind, due = TaskKind.PARTIAL, now
        elif code == A.REFUSAL and retry.refusal_conversion_hours is not None:
            kind, due = TaskKind.REFUSAL_CONVERSION, now + timedelta(hours=retry.refusal_conversion_hours)
        else:
            return None
        if (case.id, kind) in held:
            return None
        held.add((case.id, kind))
        _with_staff(case)
        return _StaffTask(case, kind, now, due)


def _applied(attempt_id: int, temp: str, case: _Case) -> Applied:
    return Applied(attempt_id, temp, case.status, case.final_disposition, case.next_attempt_at)


def _read(session: Session, ids: list[int]) -> tuple[dict[int, _Attempt], dict[int, _Case]]:
    """The attempts, and the case of each attempt (one object per case), locked."""
    attempts: dict[int, _Attempt] = {}
    cases: dict[int, _Case] = {}
    by_id: dict[int, _Case] = {}
    split = len(_ATTEMPT_READ)  # the attempt's columns, then the case's (see _READ)
    for row in driver_sql.rows(session, _READ, {"ids": ids}):  # survey/driver_sql.py: once per settlement
        attempt = _Attempt(*row[:split])
        attempts[attempt.id] = attempt
        case = by_id.get(row[split])
        if case is None:
            case = by_id[row[split]] = _Case(*row[split:])
        cases[attempt.id] = case
    missing = sorted(set(ids) - set(attempts))
    if missing:
        raise LookupError(f"no call attempt {', '.join(map(str, missing))}")
    return attempts, cases


def _histories(session: Session, case_ids: set[int]) -> dict[int, list[tuple[int, datetime]]]:
    """Each case's attempts (id, start), in the order they were made."""
    out: dict[int, list[tuple[int, datetime]]] = {case_id: [] for case_id in case_ids}
    for attempt in case_attempts(session, list(case_ids)):
        out[attempt.case_id].append((attempt.id, attempt.started_at))
    return out


def _record(attempt: _Attempt, result: CallResult, case: _Case) -> Outcome:
    outcome = classify(result, case.contacted)
    attempt.status = ATTEMPT_STATUS[result.status]
    attempt.started_at = max(attempt.started_at, result.started_at)  # the channel may dial later than leased
    attempt.outcome = result.status
    attempt.answered_at = result.answered_at
    attempt.ended_at = result.ended_at
    attempt.amd_result = result.amd_result
    attempt.hangup_cause = result.hangup_cause
    attempt.error = result.error
    attempt.temp_disposition = outcome.temp
    attempt.provider_call_id = attempt.provider_call_id or result.provider_call_id
    return outcome


def _callback_wanted(case: _Case, attempt: _Attempt, result: CallResult, policy: DialPolicy,
                     after: datetime) -> datetime | None:
    """When to call back, inside the windows and not before this call ended: the resident's new
    choice, else a staff callback set while this call was running (an appointment this very call
    kept is used up). Callbacks may use ``callback_grace`` attempts beyond the cap."""
    pending = case.callback_at if case.callback_at and case.callback_at > attempt.started_at else None
    wanted = result.callback_at or pending
    if wanted is None or case.attempts >= policy.retry.max_attempts + policy.retry.callback_grace:
        return None
    try:
        return clamp_to_window(policy, max(wanted, after))
    except ScheduleError:
        return None


def _write(session: Session, statement: Update, columns: tuple[str, ...], rows: Iterable[_Attempt | _Case]) -> list[int]:
    """Write ``columns`` of ``rows`` with one executemany statement (on SQLite straight to the
    driver, survey/driver_sql.py: SQLAlchemy's parameters row by row cost as much as SQLite's
    writes); returns the rows' ids."""
    params = list(map(attrgetter("id", *columns), rows))
    driver_sql.execute_many(session, statement, ("row_id", *(f"v_{name}" for name in columns)), params)
    return [p[0] for p in params]


def _with_staff(case: _Case) -> None:
    """The case waits for staff: the dialer keeps off it."""
    release(case)
    case.status = CaseStatus.FOLLOW_UP
    case.next_attempt_at = None


_TASK_NOTES = {
    TaskKind.OPERATOR: "resident asked for a person during the IVR interview",
    TaskKind.PARTIAL: "the interview stopped part-way and the dialer's attempts are used up: finish it in CATI",
    TaskKind.REFUSAL_CONVERSION: "the resident hung up in the introduction and the attempts ran out: "
                                 "one conversion call",  # a refusal among the calls: the case's code is 2.11
}


class _StaffTask(NamedTuple):
    case: _Case
    kind: TaskKind
    at: datetime
    due_at: datetime | None = None  # default: at once


def _hand_to_staff(session: Session, tasks: list[_StaffTask]) -> None:
    """Open the tasks, each with its case's latest interview, read for all of them at once; they
    are written together at the session's next flush."""
    if not tasks:
        return
    interviews = {case_id: interview_id for case_id, interview_id in
                  session.execute(_LATEST_INTERVIEWS, {"ids": [t.case.id for t in tasks]})}
    for case, kind, at, due_at in tasks:
        open_task(session, survey_id=case.survey_id, case_id=case.id, kind=kind, now=at, due_at=due_at,
                  interview_id=interviews.get(case.id), note=_TASK_NOTES[kind], flush=False)
