"""Call outcomes as AAPOR dispositions (Standard Definitions, 10th edition): two tables and the
function that applies a channel's :class:`CallResult` to an attempt and its case.

``OUTCOMES`` maps what happened on one call to a temporary disposition and what to do next.
``FINAL_RULES`` gives a case that ran out of attempts (or is open when the survey closes) its
final code from everything that happened on all its calls; the first rule that matches wins.

Conventions decided here:

* "Contacted" means a person answered, which confirms a household; an answering machine on a
  confirmed household is 2.22, otherwise 3.14.
* A hang-up during the introduction (answered, no interview status) is a soft household refusal
  (2.11) that is retried in another day-part; an explicit refusal is final.
* The engine's ``partial`` (dropped part-way, resumable) is 1.2 and is redialled to resume; the
  engine decides what counts as enough answers for a partial.
* Out of attempts after contact: 1.2 if an interview was partial, 2.12 after a break-off, 2.11
  after a refusal, 2.21 after an unkept appointment, 2.22 if only machines followed, else 2.30.
  Never contacted: the dominant non-contact outcome (3.12/3.13/3.14/3.16) when it is more than
  half of the attempts, else 3.90; never attempted: 3.11.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.cases import book_callback, finalise, history, release, reschedule
from dialer.dnc import add_to_dnc
from dialer.policy import DialPolicy
from dialer.quotas import fill_if_met
from dialer.schedule import ScheduleError, clamp_to_window, next_attempt
from ivr.channels.base import CallResult, CallStatus
from survey import aapor as A
from survey.clock import Clock
from survey.models import (
    AttemptStatus,
    CallAttempt,
    Case,
    CaseStatus,
    FollowUpTask,
    Interview,
    InterviewStatus,
    Survey,
    TaskKind,
    TaskStatus,
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


NEVER_AVAILABLE = "2.21"  # an appointment was made, the respondent was never reached again

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

ATTEMPT_STATUS = {
    S.ANSWERED: AttemptStatus.COMPLETED, S.MACHINE: AttemptStatus.COMPLETED, S.FAX: AttemptStatus.COMPLETED,
    S.BUSY: AttemptStatus.BUSY, S.NO_ANSWER: AttemptStatus.NO_ANSWER, S.NON_WORKING: AttemptStatus.FAILED,
    S.FAILED: AttemptStatus.FAILED, S.CANCELED: AttemptStatus.CANCELED, S.UNKNOWN: AttemptStatus.UNKNOWN,
}


def outcome_key(result: CallResult, contacted: bool) -> str:
    if result.status not in CallStatus.ALL:
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
class CaseSummary:
    """Everything the final rules look at: the temporary codes of all attempts, whether anyone
    ever answered, and the statuses of the case's interviews (CATI completions count too)."""

    temps: Counter[str] = field(default_factory=Counter)
    contacted: bool = False
    interviews: frozenset[str] = frozenset()

    def has(self, *codes: str) -> bool:
        return any(self.temps[c] for c in codes)

    def dominant(self) -> str | None:
        total = sum(self.temps.values())
        code, count = self.temps.most_common(1)[0] if total else ("", 0)
        return code if count * 2 > total and code in _NON_CONTACT else None


_NON_CONTACT = (A.BUSY, A.NO_ANSWER, A.MACHINE_UNKNOWN, A.TECHNICAL)

FINAL_RULES: tuple[tuple[str, Callable[[CaseSummary], bool], Callable[[CaseSummary], str]], ...] = (
    ("completed", lambda s: s.has(A.COMPLETE) or I.COMPLETE in s.interviews, lambda s: A.COMPLETE),
    ("partial", lambda s: s.has(A.PARTIAL) or I.PARTIAL in s.interviews, lambda s: A.PARTIAL),
    ("broke off", lambda s: s.has(A.BREAK_OFF) or I.BREAK_OFF in s.interviews, lambda s: A.BREAK_OFF),
    ("refused", lambda s: s.has(A.REFUSAL), lambda s: A.REFUSAL),
    ("appointment never kept", lambda s: s.has(NEVER_AVAILABLE), lambda s: NEVER_AVAILABLE),
    ("machine after contact", lambda s: s.has(A.MACHINE_HOUSEHOLD), lambda s: A.MACHINE_HOUSEHOLD),
    ("other contact", lambda s: s.contacted, lambda s: A.OTHER_CONTACTED),
    ("never attempted", lambda s: not s.temps, lambda s: A.NOT_ATTEMPTED),
    ("dominant non-contact", lambda s: s.dominant() is not None, lambda s: s.dominant() or ""),
    ("mixed non-contact", lambda s: True, lambda s: A.UNKNOWN_OTHER),
)


def resolve_final(summary: CaseSummary) -> str:
    return next(code(summary) for _name, matches, code in FINAL_RULES if matches(summary))


def summaries(session: Session, cases: Sequence[Case]) -> dict[int, CaseSummary]:
    """The final rules' view of each case, read in a few queries."""
    temps: dict[int, Counter[str]] = {c.id: Counter() for c in cases}
    statuses: dict[int, set[str]] = {c.id: set() for c in cases}
    ids = list(temps)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for case_id, temp in session.execute(select(CallAttempt.case_id, CallAttempt.temp_disposition).where(
                CallAttempt.case_id.in_(chunk))):
            if temp:
                temps[case_id][temp] += 1
        for case_id, status in session.execute(select(Interview.case_id, Interview.status).where(
                Interview.case_id.in_(chunk))):
            statuses[case_id].add(status)
    return {c.id: CaseSummary(temps[c.id], c.contacted, frozenset(statuses[c.id])) for c in cases}


@dataclass(frozen=True)
class Applied:
    """What applying a result did: the attempt's code, and the case's state afterwards."""

    attempt_id: int
    temp: str
    case_status: str
    final: str | None
    next_attempt_at: datetime | None


def accepts(attempt: CallAttempt, result: CallResult) -> bool:
    """A final result lands once; a reconciled (unknown) attempt still takes the real result
    when it arrives late, but nothing replaces a real result."""
    if attempt.status not in AttemptStatus.ENDED:
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


def apply_results(session: Session, results: Sequence[tuple[int, CallResult]], clock: Clock, *,
                  policy: DialPolicy | None = None) -> list[Applied | None]:
    """:func:`apply_result` for a batch (a worker's calls): the attempts and cases are read and
    locked together, in case order, and written in one flush."""
    ids = [attempt_id for attempt_id, _ in results]
    rows = session.execute(select(CallAttempt, Case).join(Case, Case.id == CallAttempt.case_id)
                           .where(CallAttempt.id.in_(ids)).order_by(Case.id).with_for_update()
                           .execution_options(populate_existing=True)).all()
    found = {attempt.id: (attempt, case) for attempt, case in rows}
    missing = sorted(set(ids) - set(found))
    if missing:
        raise LookupError(f"no call attempt {', '.join(map(str, missing))}")
    latest = dict(session.execute(select(CallAttempt.case_id, func.max(CallAttempt.id))
                                  .where(CallAttempt.case_id.in_({c.id for _a, c in rows}))
                                  .group_by(CallAttempt.case_id)).all())
    with session.no_autoflush:
        out = [_apply(session, *found[attempt_id], latest[found[attempt_id][1].id] == attempt_id, result, clock,
                      policy) for attempt_id, result in results]
    session.flush()
    return out


def _apply(session: Session, attempt: CallAttempt, case: Case, is_latest: bool, result: CallResult, clock: Clock,
           policy: DialPolicy | None) -> Applied | None:
    if not accepts(attempt, result):
        return None
    outcome = classify(result, case.contacted)
    _record(attempt, result, outcome.temp)
    applied = Applied(attempt.id, outcome.temp, case.status, case.final_disposition, case.next_attempt_at)
    if case.status == CaseStatus.FINAL:
        return applied
    if not is_latest and outcome.action not in (Action.FINAL, Action.OPT_OUT):
        return applied
    now = clock.now()
    case.contacted = case.contacted or outcome.contact
    case.last_temp_disposition = outcome.temp
    case.updated_at = now
    if policy is None:
        survey = session.get(Survey, case.survey_id)
        assert survey is not None
        policy = DialPolicy.from_survey(survey)
    _move_case(session, case, attempt, result, outcome, policy, now)
    return Applied(attempt.id, outcome.temp, case.status, case.final_disposition, case.next_attempt_at)


def _record(attempt: CallAttempt, result: CallResult, temp: str) -> None:
    attempt.status = ATTEMPT_STATUS[result.status]
    attempt.started_at = max(attempt.started_at, result.started_at)  # the channel may dial later than leased
    attempt.outcome = result.status
    attempt.answered_at = result.answered_at
    attempt.ended_at = result.ended_at
    attempt.amd_result = result.amd_result
    attempt.hangup_cause = result.hangup_cause
    attempt.error = result.error
    attempt.temp_disposition = temp
    if result.provider_call_id and not attempt.provider_call_id:
        attempt.provider_call_id = result.provider_call_id


def _move_case(session: Session, case: Case, attempt: CallAttempt, result: CallResult, outcome: Outcome,
               policy: DialPolicy, now: datetime) -> None:
    if outcome.action == Action.FINAL:
        finalise(case, outcome.temp, now)
        if outcome.temp == A.COMPLETE:
            session.flush()  # the count of completes must see this one
            fill_if_met(session, case.stratum_id, now)
    elif outcome.action == Action.OPT_OUT:
        add_to_dnc(session, case.contact.number_hash, "ivr_opt_out", case.survey_id, now=now)
    elif outcome.action == Action.FOLLOW_UP:
        _hand_to_staff(session, case, now)
    else:
        _retry(session, case, attempt, result, outcome, policy, now)


def _hand_to_staff(session: Session, case: Case, now: datetime) -> None:
    release(case)
    case.status = CaseStatus.FOLLOW_UP
    case.next_attempt_at = None
    already = session.scalar(select(FollowUpTask.id).where(
        FollowUpTask.case_id == case.id, FollowUpTask.kind == TaskKind.OPERATOR,
        FollowUpTask.status.in_((TaskStatus.OPEN, TaskStatus.IN_PROGRESS))).limit(1))
    if already is None:
        interview_id = session.scalar(select(func.max(Interview.id)).where(Interview.case_id == case.id))
        session.add(FollowUpTask(survey_id=case.survey_id, case_id=case.id, interview_id=interview_id,
                                 kind=TaskKind.OPERATOR, priority=10, due_at=now, created_at=now,
                                 note="resident asked for a person during the IVR interview"))


def _retry(session: Session, case: Case, attempt: CallAttempt, result: CallResult, outcome: Outcome,
           policy: DialPolicy, now: datetime) -> None:
    after = max(now, result.ended_at)
    callback = _callback_wanted(case, attempt, result, policy, after)
    if callback is not None:
        book_callback(case, callback, now)
        return
    assert outcome.rule is not None
    when = next_attempt(policy, policy.retry.rules[outcome.rule], after, history(session, case.id, policy.calendar))
    if when is None:
        session.flush()  # the final rules read every attempt's code, this one's too
        finalise(case, resolve_final(summaries(session, [case])[case.id]), now)
    else:
        reschedule(case, when, now)


def _callback_wanted(case: Case, attempt: CallAttempt, result: CallResult, policy: DialPolicy,
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
