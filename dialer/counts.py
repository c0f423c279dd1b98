"""Cases counted per township, status and final code, from the counts the database keeps
(``case_counts``, kept by triggers on ``cases``: migration 0009) rather than by counting a
province's cases on every request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session

from survey import aapor
from survey.models import CaseCount
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


def per_township(survey_id: int, statuses: Sequence[str]) -> Select[*tuple[Any, ...]]:
    """One row per township of survey ``survey_id`` that has counts: its id, its cases in each of
    ``statuses`` (in that order) and its completes, summed in the database, so that a
    province's 3,350 townships come back as 3,350 rows rather than a row per township, status,
    final code and shard."""
    def total(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(CaseCount.n).filter(*where), 0)

    completes = total(CaseCount.status == CaseStatus.FINAL, CaseCount.disposition == aapor.COMPLETE)
    return (select(CaseCount.stratum_id, *(total(CaseCount.status == status) for status in statuses), completes)
            .where(CaseCount.survey_id == survey_id).group_by(CaseCount.stratum_id))


def completed(session: Session, strata: Collection[int]) -> Counter[int]:
    """Township -> cases closed as complete, for the townships ``strata``."""
    rows = session.execute(select(CaseCount.stratum_id, func.sum(CaseCount.n)).where(
        CaseCount.stratum_id.in_(list(strata)), CaseCount.status == CaseStatus.FINAL,
        CaseCount.disposition == aapor.COMPLETE).group_by(CaseCount.stratum_id))
    return Counter({stratum_id: int(n) for stratum_id, n in rows})


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
