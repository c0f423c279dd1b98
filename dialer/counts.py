"""Cases counted per township, status and final code, from the counts the database keeps
(``case_counts``, kept by triggers on ``cases``: migration 0009) rather than by counting a
province's cases on every request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Subquery, bindparam, func, select, true
from sqlalchemy.orm import Session

from survey import aapor
from survey.models import CaseCount, Stratum
from survey.vocabulary import CaseStatus

_counted = (CaseCount.stratum_id, CaseCount.status, CaseCount.disposition)


@dataclass(frozen=True)
class Key:
    stratum_id: int
    status: str
    disposition: str  # the final code, "" while none


def case_counts(session: Session, survey_id: int | None = None) -> Counter[Key]:
    """Cases of survey ``survey_id`` (of every survey: None) by township, status and final code;
    the sum of each count's shards."""
    query = select(*_counted, func.sum(CaseCount.n)).group_by(*_counted).having(func.sum(CaseCount.n) != 0)
    if survey_id is not None:
        query = query.where(CaseCount.survey_id == survey_id)
    return Counter({Key(stratum_id, status, disposition): int(n)
                    for stratum_id, status, disposition, n in session.execute(query)})


def per_township(survey_id: int) -> Subquery:
    """A sub-select of one row per township of survey ``survey_id`` that has counts: its cases
    by status (columns named after the statuses) and its completes (``completes``), summed in
    the database, so that a province's 3,350 townships come back as 3,350 rows rather than a
    row per township, status and final code."""
    def total(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(CaseCount.n).filter(*where), 0)

    statuses = [total(CaseCount.status == status).label(str(status)) for status in CaseStatus]
    completes = total(CaseCount.status == CaseStatus.FINAL, CaseCount.disposition == aapor.COMPLETE)
    return (select(CaseCount.stratum_id, *statuses, completes.label("completes"))
            .where(CaseCount.survey_id == survey_id).group_by(CaseCount.stratum_id).subquery("counted"))


# Each township's quota and completes, for the townships asked about: one statement, as a worker
# asks after every batch of calls with a complete (a correlated sum per township, on the index).
_QUOTAS_AND_COMPLETES = select(
    Stratum.id, Stratum.quota,
    select(func.coalesce(func.sum(CaseCount.n), 0)).where(
        CaseCount.stratum_id == Stratum.id, CaseCount.status == CaseStatus.FINAL,
        CaseCount.disposition == aapor.COMPLETE).scalar_subquery(),
).where(Stratum.id.in_(bindparam("ids", expanding=True)))


def quotas_and_completes(session: Session, strata: Collection[int]) -> list[tuple[int, int, int]]:
    """(township, quota, cases closed as complete) for the townships ``strata``."""
    return [(stratum_id, quota, int(n)) for stratum_id, quota, n in
            session.execute(_QUOTAS_AND_COMPLETES, {"ids": list(strata)})]


def by_survey(session: Session) -> dict[int, Counter[str]]:
    """Survey id -> final code ("" for none) -> cases."""
    rows = session.execute(select(CaseCount.survey_id, CaseCount.disposition, func.sum(CaseCount.n))
                           .group_by(CaseCount.survey_id, CaseCount.disposition))
    counts: dict[int, Counter[str]] = {}
    for survey_id, disposition, n in rows:
        counts.setdefault(survey_id, Counter())[disposition] += int(n)
    return counts


def totals(session: Session, survey_ids: Collection[int], within: ColumnElement[bool] = true()) -> dict[int, int]:
    """Survey id -> cases, for the surveys ``survey_ids``, counting only the counts ``within``
    (a clause on ``CaseCount``: a user's townships)."""
    rows = session.execute(select(CaseCount.survey_id, func.sum(CaseCount.n))
                           .where(CaseCount.survey_id.in_(list(survey_ids)), within).group_by(CaseCount.survey_id))
    return {survey_id: int(n) for survey_id, n in rows}
