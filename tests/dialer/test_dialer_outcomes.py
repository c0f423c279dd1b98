"""From call results to AAPOR codes: the tables, and applying results to attempts and cases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from dialer_fakes import VAULT, add_numbers, make_survey
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from calls.callbacks import set_callback
from dialer import attempts, leases
from dialer.close import close_survey
from dialer.final_codes import CaseSummary, resolve_final
from dialer.outcomes import apply_result, apply_results, classify
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from dialer.schedule import ScheduleError
from reports.dispositions import dispositions_by_township
from survey import aapor
from survey.clock import VirtualClock
from survey.models import AuditLog, CallAttempt, Case, DoNotCall, FollowUpTask, Interview, Survey
from survey.vocabulary import AttemptStatus, CallStatus, CaseStatus, InterviewStatus, TaskKind, TaskStatus

T0 = datetime(2026, 11, 2, 10, 40)  # Monday 18:40 in Shanghai


def result(status: str, interview: str | None = None, **kw: object) -> CallResult:
    return CallResult(status, T0, T0 + timedelta(minutes=2), interview_status=interview, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "contacted", "code", "action"), [
    (result(CallStatus.BUSY), False, "3.12", "retry"),
    (result(CallStatus.NO_ANSWER), False, "3.13", "retry"),
    (result(CallStatus.MACHINE), False, "3.14", "retry"),
    (result(CallStatus.MACHINE), True, "2.22", "retry"),
    (result(CallStatus.FAX), False, "4.20", "final"),
    (result(CallStatus.NON_WORKING), False, "4.31", "final"),
    (result(CallStatus.FAILED), False, "3.16", "retry"),
    (result(CallStatus.UNKNOWN), False, "3.90", "retry"),
    (result(CallStatus.ANSWERED), False, "2.11", "retry"),  # hung up during the introduction
    (result(CallStatus.ANSWERED, "complete"), False, "1.1", "final"),
    (result(CallStatus.ANSWERED, "partial"), False, "1.2", "retry"),
    (result(CallStatus.ANSWERED, "refused"), False, "2.11", "final"),
    (result(CallStatus.ANSWERED, "break_off"), False, "2.12", "final"),
    (result(CallStatus.ANSWERED, "screened_out"), False, "4.70", "final"),
    (result(CallStatus.ANSWERED, "opted_out"), False, "2.11", "opt_out"),
    (result(CallStatus.ANSWERED, "operator"), False, "2.30", "follow_up"),
    (result(CallStatus.ANSWERED, "callback"), False, "2.21", "retry"),
])
def test_outcome_table(call: CallResult, contacted: bool, code: str, action: str) -> None:
    outcome = classify(call, contacted)
    assert (outcome.temp, outcome.action) == (code, action)
    assert code in aapor.DISPOSITIONS


def test_unknown_statuses_are_rejected() -> None:
    with pytest.raises(ValueError):
        classify(result("ringing"), False)
    with pytest.raises(ValueError):
        classify(result(CallStatus.ANSWERED, "dancing"), False)


@pytest.mark.parametrize(("temps", "contacted", "interviews", "final"), [
    ({"3.13": 3, "1.2": 1}, True, set(), "1.2"),
    ({"3.13": 3}, True, {"complete"}, "1.1"),  # completed by staff on the phone
    ({"2.11": 2, "3.13": 5}, True, set(), "2.11"),
    ({"2.21": 1, "3.13": 5}, True, set(), "2.21"),
    ({"2.22": 2, "3.13": 5}, True, set(), "2.22"),
    ({"2.30": 1}, True, set(), "2.21"),  # handed to staff, never reached: not "other" (2.30)
    ({"3.13": 2}, True, set(), "2.21"),  # someone answered once, the respondent never again
    ({"2.21": 1, "2.22": 3}, True, set(), "2.21"),
    ({"2.11": 1, "2.22": 3}, True, set(), "2.11"),
    ({"3.13": 5, "3.12": 3}, False, set(), "3.13"),
    ({"3.12": 4, "3.13": 4}, False, set(), "3.13"),  # a tie: no answer says more than busy
    ({"3.13": 1, "3.12": 1, "3.16": 1, "3.90": 2}, False, set(), "3.13"),  # plurality, not majority
    ({"3.14": 3, "3.16": 1}, False, set(), "3.14"),
    ({"3.14": 1, "3.13": 1}, False, set(), "3.14"),
    ({"3.90": 2}, False, set(), "3.90"),  # every call's result was lost
    ({}, False, set(), "3.11"),
])
def test_final_rules(temps: dict[str, int], contacted: bool, interviews: set[str], final: str) -> None:
    assert resolve_final(CaseSummary(Counter(temps), contacted, frozenset(interviews))) == final


def _open_attempt(session: Session, clock: VirtualClock, *, quotas: tuple[int, ...] = (5,),
                  case_id: int | None = None) -> CallAttempt:
    """One case (the first open one, or ``case_id``) leased and its attempt opened, as the worker does."""
    if session.scalars(select(Survey)).first() is None:
        survey = make_survey(session, clock, quotas=quotas)
        add_numbers(session, survey, 3, clock.now())
    survey = session.scalars(select(Survey)).one()
    ids = [case_id] if case_id else session.scalars(
        select(Case.id).where(Case.status.in_((CaseStatus.NEW, CaseStatus.SCHEDULED))).order_by(Case.id).limit(1)).all()
    cases = leases.lease(session, list(ids), "w", clock.now(), timedelta(minutes=30))
    dial = attempts.begin(session, cases, ["main"], [""], now=clock.now(), owner="w", channel="fake", vault=VAULT,
                          ring_timeout_s=30)[0]
    session.flush()
    attempt = session.get(CallAttempt, dial.request.attempt_id)
    assert attempt is not None
    return attempt


def _end(clock: VirtualClock, status: str, interview: str | None = None,
         callback_at: datetime | None = None) -> CallResult:
    now = clock.now()
    return CallResult(status, now, now + timedelta(minutes=3), interview_status=interview, callback_at=callback_at,
                      answered_at=now if status == CallStatus.ANSWERED else None)


def test_applying_a_result_twice_changes_nothing(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    end = _end(clock, CallStatus.BUSY)
    first = apply_result(session, attempt.id, end, clock)
    case = session.get(Case, attempt.case_id)
    assert first is not None and case is not None
    assert (attempt.temp_disposition, attempt.status, case.status) == ("3.12", AttemptStatus.BUSY, "scheduled")
    due = case.next_attempt_at
    clock.advance(timedelta(minutes=5))
    assert apply_result(session, attempt.id, end, clock) is None
    assert apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "complete"), clock) is None
    assert (attempt.temp_disposition, case.status, case.next_attempt_at) == ("3.12", "scheduled", due)


def test_a_case_out_of_attempts_reports_its_final_code(session: Session, clock: VirtualClock) -> None:
    survey = make_survey(session, clock, settings={"retry_policy": {"max_attempts": 1}})
    add_numbers(session, survey, 1, clock.now())
    attempt = _open_attempt(session, clock)
    applied = apply_result(session, attempt.id, _end(clock, CallStatus.NO_ANSWER), clock)
    assert applied is not None
    assert (applied.temp, applied.case_status, applied.final, applied.next_attempt_at) == (
        aapor.NO_ANSWER, CaseStatus.FINAL, aapor.NO_ANSWER, None)


def test_progress_reports_only_move_forward(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    assert attempts.advance(session, attempt.id, AttemptStatus.RINGING, clock.now())
    assert not attempts.advance(session, attempt.id, AttemptStatus.INITIATED, clock.now())
    assert attempts.advance(session, attempt.id, AttemptStatus.IN_PROGRESS, clock.now())
    assert attempt.answered_at == clock.now()
    apply_result(session, attempt.id, _end(clock, CallStatus.NO_ANSWER), clock)
    assert not attempts.advance(session, attempt.id, AttemptStatus.RINGING, clock.now())
    assert attempt.status == AttemptStatus.NO_ANSWER
    with pytest.raises(ValueError):
        attempts.advance(session, attempt.id, AttemptStatus.COMPLETED, clock.now())


def test_a_late_real_result_replaces_a_reconciled_unknown(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    clock.advance(timedelta(hours=1))
    survey = session.scalars(select(Survey)).one()
    assert leases.reap(session, survey.id, clock, DialPolicy.from_survey(survey)) == 1
    assert (attempt.status, attempt.temp_disposition) == (AttemptStatus.UNKNOWN, "3.90")
    case = session.get(Case, attempt.case_id)
    assert case is not None and case.status == CaseStatus.SCHEDULED
    late = apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "complete"), clock)
    assert late is not None and late.final == "1.1"
    assert (attempt.status, case.final_disposition) == (AttemptStatus.COMPLETED, "1.1")


def test_an_expired_lease_takes_its_outcome_from_the_interview(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    session.add(Interview(case_id=attempt.case_id, survey_id=attempt.survey_id, questionnaire_version="1",
                          status=InterviewStatus.COMPLETE, last_attempt_id=attempt.id, started_at=clock.now(),
                          updated_at=clock.now()))
    clock.advance(timedelta(hours=1))
    survey = session.scalars(select(Survey)).one()
    leases.reap(session, survey.id, clock, DialPolicy.from_survey(survey))
    assert attempt.temp_disposition == "1.1"
    assert session.get(Case, attempt.case_id).final_disposition == "1.1"  # type: ignore[union-attr]


def test_a_lease_without_attempt_goes_back_to_the_queue(session: Session, clock: VirtualClock) -> None:
    survey = make_survey(session, clock)
    add_numbers(session, survey, 1, clock.now())
    leased = leases.lease(session, list(session.scalars(select(Case.id))), "w", clock.now(), timedelta(minutes=1))
    case = session.get(Case, leased[0].id)
    assert case is not None
    clock.advance(timedelta(minutes=2))
    leases.reap(session, survey.id, clock, DialPolicy.from_survey(survey))
    assert (case.status, case.next_attempt_at, case.lease_owner) == (CaseStatus.SCHEDULED, clock.now(), None)


def test_an_attempt_never_placed_is_withdrawn(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    case = session.get(Case, attempt.case_id)
    assert case is not None and case.attempts == 1
    survey = session.scalars(select(Survey)).one()
    clock.set(datetime(2026, 11, 2, 13, 5))  # 21:05 local: the window has closed
    attempts.withdraw(session, attempt.id, clock.now(), DialPolicy.from_survey(survey))
    session.flush()
    assert session.scalar(select(func.count()).select_from(CallAttempt)) == 0
    assert (case.attempts, case.status) == (0, CaseStatus.SCHEDULED)
    assert case.next_attempt_at == datetime(2026, 11, 3, 10, 30)  # Tuesday 18:30


def test_opt_out_puts_the_number_on_do_not_call(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    applied = apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "opted_out"), clock)
    assert applied is not None and applied.final == "2.11"
    case = session.get(Case, attempt.case_id)
    assert case is not None
    dnc = session.get(DoNotCall, case.contact.number_hash)
    assert dnc is not None and dnc.source == "ivr_opt_out"


def test_operator_request_goes_to_staff_once(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    applied = apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "operator"), clock)
    assert applied is not None and applied.case_status == CaseStatus.FOLLOW_UP
    tasks = session.scalars(select(FollowUpTask)).all()
    assert [(t.kind, t.status) for t in tasks] == [(TaskKind.OPERATOR, TaskStatus.OPEN)]
    assert close_survey(session, session.scalars(select(Survey)).one(), clock).tasks_cancelled == 1


def _hang_ups_out_of_attempts(session: Session, clock: VirtualClock, cases: list[Case]) -> list[tuple[int, CallResult]]:
    """The cases' last calls (one attempt each allowed), each hung up in the introduction: soft
    refusals out of attempts, which go to staff for a conversion call."""
    leased = leases.lease(session, [c.id for c in cases], "w", clock.now(), timedelta(minutes=30))
    dials = attempts.begin(session, leased, ["main"] * len(leased), [""] * len(leased), now=clock.now(), owner="w",
                           channel="fake", vault=VAULT, ring_timeout_s=30)
    return [(d.request.attempt_id, _end(clock, CallStatus.ANSWERED)) for d in dials]


def test_cases_out_of_attempts_go_to_staff_together(session: Session, clock: VirtualClock) -> None:
    """Each soft refusal out of attempts gets one conversion task, with its case's latest interview,
    unless it had one already (then it is final); the tasks held and the interviews are read in as
    many statements whatever the number of cases."""
    survey = make_survey(session, clock, quotas=(20,), settings={"retry_policy": {"max_attempts": 1}})
    add_numbers(session, survey, 7, clock.now())
    cases = list(session.scalars(select(Case).order_by(Case.id)))
    interview = Interview(case_id=cases[3].id, survey_id=survey.id, questionnaire_version="1",
                          status=InterviewStatus.REFUSED, started_at=clock.now(), updated_at=clock.now())
    session.add(interview)
    session.add(FollowUpTask(survey_id=survey.id, case_id=cases[4].id, kind=TaskKind.REFUSAL_CONVERSION,
                             status=TaskStatus.DONE, due_at=clock.now(), created_at=clock.now()))
    small, large = _hang_ups_out_of_attempts(session, clock, cases[:2]), _hang_ups_out_of_attempts(session, clock, cases[2:])
    session.flush()
    reads: list[int] = []
    for batch in (small, large):
        with _reads(session) as seen:
            apply_results(session, batch, clock)
        reads.append(seen[0])
    assert reads[0] == reads[1]
    session.expire_all()
    tasks = session.scalars(select(FollowUpTask).order_by(FollowUpTask.id)).all()
    assert [(t.case_id, t.kind) for t in tasks] == [(cases[4].id, TaskKind.REFUSAL_CONVERSION)] + [
        (c.id, TaskKind.REFUSAL_CONVERSION) for c in cases if c is not cases[4]]
    assert {t.case_id: t.interview_id for t in tasks[1:]} == {c.id: interview.id if c is cases[3] else None
                                                             for c in cases if c is not cases[4]}
    assert [(c.status, c.final_disposition) for c in cases] == [(CaseStatus.FOLLOW_UP, None)] * 4 + [
        (CaseStatus.FINAL, aapor.REFUSAL)] + [(CaseStatus.FOLLOW_UP, None)] * 2


@contextmanager
def _reads(session: Session) -> Iterator[list[int]]:
    """The reads run meanwhile on ``session``'s engine (a list of one count)."""
    seen = [0]

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen[0] += statement.lstrip().upper().startswith("SELECT")

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_resident_callback_is_booked_inside_the_window(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    wanted = datetime(2026, 11, 3, 14, 0)  # Tuesday 22:00 local: after the window
    apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "callback", callback_at=wanted), clock)
    case = session.get(Case, attempt.case_id)
    assert case is not None
    assert (case.status, case.callback_at) == (CaseStatus.CALLBACK, datetime(2026, 11, 4, 10, 30))  # Wed 18:30


def test_staff_callback_is_audited_and_kept_through_a_running_call(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    case = session.get(Case, attempt.case_id)
    assert case is not None
    booked = set_callback(session, case, datetime(2026, 11, 3, 11, 0), None, now=clock.now())
    assert booked == datetime(2026, 11, 3, 11, 0) and case.status == CaseStatus.LEASED
    apply_result(session, attempt.id, _end(clock, CallStatus.NO_ANSWER), clock)
    assert (case.status, case.next_attempt_at) == (CaseStatus.CALLBACK, booked)
    log = session.scalars(select(AuditLog)).one()
    assert (log.action, log.after) == ("callback_set", {"status": "leased", "callback_at": "2026-11-03T11:00:00"})


def test_a_callback_cannot_reopen_a_final_case(session: Session, clock: VirtualClock) -> None:
    attempt = _open_attempt(session, clock)
    apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "complete"), clock)
    case = session.get(Case, attempt.case_id)
    assert case is not None
    with pytest.raises(ScheduleError):
        set_callback(session, case, datetime(2026, 11, 3, 11, 0), None, now=clock.now())


def test_complete_fills_the_quota_but_spares_partials_and_callbacks(session: Session, clock: VirtualClock) -> None:
    survey = make_survey(session, clock, quotas=(1,))
    add_numbers(session, survey, 4, clock.now())
    cases = session.scalars(select(Case).order_by(Case.id)).all()
    set_callback(session, cases[1], datetime(2026, 11, 3, 11, 0), None, now=clock.now())
    session.add(Interview(case_id=cases[2].id, survey_id=survey.id, questionnaire_version="1",
                          status=InterviewStatus.PARTIAL, started_at=clock.now(), updated_at=clock.now()))
    attempt = _open_attempt(session, clock)
    apply_result(session, attempt.id, _end(clock, CallStatus.ANSWERED, "complete"), clock)
    session.expire_all()
    codes = [c.final_disposition for c in session.scalars(select(Case).order_by(Case.id))]
    assert codes == ["1.1", None, None, None]
    never_dialled = session.scalars(select(Case).order_by(Case.id)).all()[3]
    assert never_dialled.status == CaseStatus.HELD  # unreleased: out of the case base, not 4.80


def test_a_filled_quota_codes_worked_numbers_by_their_calls_and_unreleases_the_rest(
        session: Session, clock: VirtualClock) -> None:
    """Numbers already worked keep what their calls showed (unknown eligibility, refusal), numbers
    never dialled go back to the unreleased sample: coding either 4.80 would drop them from every
    denominator and inflate the response rate."""
    survey = make_survey(session, clock, quotas=(1,))
    add_numbers(session, survey, 4, clock.now())
    ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    for case_id, end in ((ids[0], _end(clock, CallStatus.NO_ANSWER)),
                         (ids[1], _end(clock, CallStatus.ANSWERED)),  # hung up in the introduction
                         (ids[2], _end(clock, CallStatus.ANSWERED, "complete"))):
        apply_result(session, _open_attempt(session, clock, case_id=case_id).id, end, clock)
    session.expire_all()
    codes = [c.final_disposition for c in session.scalars(select(Case).order_by(Case.id))]
    assert codes == [aapor.NO_ANSWER, aapor.REFUSAL, aapor.COMPLETE, None]
    survey_row = session.scalars(select(Survey)).one()
    counts = dispositions_by_township(session, survey_row)
    assert counts == {"T01": {aapor.NO_ANSWER: 1.0, aapor.REFUSAL: 1.0, aapor.COMPLETE: 1.0}}


def test_close_codes_every_released_case_and_settles_open_calls(session: Session, clock: VirtualClock) -> None:
    survey = make_survey(session, clock, quotas=(5,))
    add_numbers(session, survey, 10, clock.now(), replicate_size=4)
    attempt = _open_attempt(session, clock)  # in flight when the survey closes
    report = close_survey(session, survey, clock)
    assert report.unreleased == 6
    assert report.finalised == {"3.11": 3, "3.90": 1}
    assert attempt.status == AttemptStatus.UNKNOWN
    assert session.scalar(select(func.count()).select_from(Case).where(
        Case.status != CaseStatus.HELD, Case.final_disposition.is_(None))) == 0
    assert survey.status == "closed"


def test_a_callback_chosen_for_before_the_call_ended_moves_inside_the_window(session: Session,
                                                                            clock: VirtualClock) -> None:
    clock.set(datetime(2026, 11, 2, 12, 55))  # 20:55 local, five minutes before the window closes
    attempt = _open_attempt(session, clock)
    ends_late = CallResult(CallStatus.ANSWERED, clock.now(), clock.now() + timedelta(minutes=10),
                           interview_status="callback", callback_at=clock.now() + timedelta(minutes=1))
    apply_result(session, attempt.id, ends_late, clock)
    case = session.get(Case, attempt.case_id)
    assert case is not None and case.callback_at == datetime(2026, 11, 3, 10, 30)  # Tuesday 18:30
