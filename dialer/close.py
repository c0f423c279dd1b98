"""Closing a survey round: every released case gets its final AAPOR code.

Calls still open are settled first (as ``unknown``, or by their interview), then the final rules
of :mod:`dialer.final_codes` code every open case. The round's unfinished staff tasks are
cancelled, except revisits and staff callbacks, which outlive it (:mod:`dialer.followup`); a call
made on one later is recorded but does not change the round's final codes. Cases of replicates that were never released stay
without a code: AAPOR leaves unreleased sample out of the case base altogether.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.cases import OPEN, status_is
from dialer.final_codes import finalise_by_rules
from dialer.followup import OUTLIVE_ROUND, UNFINISHED
from dialer.leases import evidence
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from survey.clock import Clock
from survey.models import CallAttempt, Case, FollowUpTask, Survey
from survey.vocabulary import ATTEMPT_ENDED, CaseStatus, SurveyStatus, TaskStatus


@dataclass(frozen=True)
class CloseReport:
    finalised: dict[str, int]  # final code -> cases coded now
    unreleased: int  # cases of replicates never released (no code, not in the case base)
    tasks_cancelled: int


def close_survey(session: Session, survey: Survey, clock: Clock) -> CloseReport:
    now = clock.now()
    policy = DialPolicy.from_survey(survey)
    in_flight = session.scalars(select(CallAttempt).where(
        CallAttempt.survey_id == survey.id, CallAttempt.status.not_in(ATTEMPT_ENDED))).all()
    for attempt in in_flight:
        apply_result(session, attempt.id, evidence(session, attempt, now), clock, policy=policy)
    cases = session.scalars(select(Case).where(Case.survey_id == survey.id, Case.status.in_(OPEN))).all()
    coded = finalise_by_rules(session, cases, now)
    tasks = session.scalars(select(FollowUpTask).where(
        FollowUpTask.survey_id == survey.id, FollowUpTask.status.in_(UNFINISHED),
        FollowUpTask.kind.not_in(OUTLIVE_ROUND))).all()
    for task in tasks:
        task.status, task.closed_at = TaskStatus.CANCELLED, now
        task.note = (task.note + " (survey closed)").strip()
    survey.status = SurveyStatus.CLOSED
    held = session.scalar(select(func.count()).select_from(Case).where(
        Case.survey_id == survey.id, status_is(CaseStatus.HELD))) or 0
    session.flush()
    return CloseReport(dict(coded), int(held), len(tasks))
