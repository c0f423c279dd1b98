"""Live counters for the supervisor view and the command line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.cases import DIALABLE, status_is
from dialer.counts import by_survey, case_counts
from dialer.policy import DialPolicy
from survey import aapor
from survey.models import Case, Questionnaire, Stratum, Survey
from survey.vocabulary import CaseStatus


@dataclass(frozen=True)
class DialerCounters:
    at: datetime
    window_open: bool
    next_window: datetime | None  # now, when a window is open
    lines_in_use: int  # leased cases: calls being placed or running, all workers together
    due: int  # dialable and due now
    dialable: int  # new, scheduled or callback, due now or later
    callbacks_booked: int
    callbacks_due: int
    held: int  # replicates not yet released
    follow_up: int  # with staff
    final: int
    total: int
    leases_by_worker: dict[str, int]


def live_counters(session: Session, survey: Survey, now: datetime) -> DialerCounters:
    """The counters from the counts the database keeps; the cases due are the dialable ones less
    those booked ahead (not due before ``now``), which an index range read finds without a scan
    of the survey's cases."""
    by_status = cases_by_status(session, survey.id)
    ahead: Counter[str] = Counter()
    for later in (Case.next_attempt_at > now, Case.next_attempt_at.is_(None)):  # two index ranges, not an OR
        ahead.update(dict(session.execute(select(Case.status, func.count()).where(
            Case.survey_id == survey.id, status_is(*DIALABLE), later).group_by(Case.status)).all()))
    due = {status: by_status.get(status, 0) - ahead[status] for status in DIALABLE}
    owners = dict(session.execute(select(Case.lease_owner, func.count()).where(
        Case.survey_id == survey.id, status_is(CaseStatus.LEASED)).group_by(Case.lease_owner)).all())
    calendar = DialPolicy.from_survey(survey).calendar
    return DialerCounters(
        at=now, window_open=calendar.is_open(now), next_window=calendar.next_open(now),
        lines_in_use=by_status.get(CaseStatus.LEASED, 0), due=sum(due.values()),
        dialable=sum(by_status.get(s, 0) for s in DIALABLE),
        callbacks_booked=by_status.get(CaseStatus.CALLBACK, 0), callbacks_due=due[CaseStatus.CALLBACK],
        held=by_status.get(CaseStatus.HELD, 0), follow_up=by_status.get(CaseStatus.FOLLOW_UP, 0),
        final=by_status.get(CaseStatus.FINAL, 0), total=sum(by_status.values()),
        leases_by_worker={str(k): v for k, v in owners.items()})


def final_dispositions(session: Session, survey_id: int) -> dict[str, int]:
    """Final AAPOR code -> number of cases."""
    codes: Counter[str] = Counter()
    for key, n in case_counts(session, survey_id).items():
        if key.disposition:
            codes[key.disposition] += n
    return dict(codes)


@dataclass(frozen=True)
class SurveyOverview:
    """One survey round as ``minyi survey list`` shows it."""

    code: str
    period: str
    status: str
    questionnaire: str  # "qid v<version>"
    townships: int
    cases: int  # held (unreleased) replicates included
    completes: int


def survey_overviews(session: Session) -> list[SurveyOverview]:
    """Every survey, newest period first, with its case and complete counts (three queries)."""
    towns = dict(session.execute(select(Stratum.survey_id, func.count()).group_by(Stratum.survey_id)).all())
    cases = {sid: (codes.total(), codes[aapor.COMPLETE]) for sid, codes in by_survey(session).items()}
    rows = session.execute(select(Survey.id, Survey.code, Survey.period, Survey.status, Questionnaire.qid,
                                  Questionnaire.version).join(Questionnaire)
                           .order_by(Survey.period.desc(), Survey.code)).all()
    return [SurveyOverview(r.code, r.period, r.status, f"{r.qid} v{r.version}", towns.get(r.id, 0),
                           *cases.get(r.id, (0, 0))) for r in rows]


def cases_by_status(session: Session, survey_id: int) -> dict[str, int]:
    """Case status -> number of cases."""
    statuses: Counter[str] = Counter()
    for key, n in case_counts(session, survey_id).items():
        statuses[key.status] += n
    return dict(statuses)
