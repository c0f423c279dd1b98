"""Cases counted per township, status and final code, from the counts the database keeps
(``case_counts``, kept by triggers on ``cases``: migration 0011) rather than by counting a
province's cases on every request.

On PostgreSQL the triggers write each count in one of 8 shards (by transaction id), so late in a
province's fieldwork a count has up to 8 rows and a progress view sums 8 times the rows it needs
(435,000 rows, 200 ms). :func:`fold` moves the shards' rows into shard :data:`FOLDED`, which no
trigger writes, from the workers' housekeeping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, text, true
from sqlalchemy.orm import Session

from survey import aapor, driver_sql
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


def per_township(statuses: Sequence[str]) -> Select[*tuple[Any, ...]]:
    """One row per township of survey ``:survey_id`` that has counts: its id, its cases in each of
    ``statuses`` (in that order) and its completes, summed in the database, so that a
    province's 3,350 townships come back as 3,350 rows rather than a row per township, status,
    final code and shard."""
    def total(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(CaseCount.n).filter(*where), 0)

    completes = total(CaseCount.status == CaseStatus.FINAL, CaseCount.disposition == aapor.COMPLETE)
    return (select(CaseCount.stratum_id, *(total(CaseCount.status == status) for status in statuses), completes)
            .where(CaseCount.survey_id == bindparam("survey_id")).group_by(CaseCount.stratum_id))


# Each township's quota and completes, for the townships asked about: one statement, as a worker
# asks after every batch of calls with a complete (a correlated sum per township, on the index).
_QUOTAS_AND_COMPLETES = select(
    Stratum.id, Stratum.quota,
    select(func.coalesce(func.sum(CaseCount.n), 0)).where(
        CaseCount.stratum_id == Stratum.id, CaseCount.status == CaseStatus.FINAL,
        CaseCount.disposition == aapor.COMPLETE).scalar_subquery(),
).where(Stratum.id.in_(bindparam("ids", expanding=True)))


def quotas_and_completes(session: Session, strata: Collection[int]) -> list[tuple[int, int, int]]:
    """(township, quota, cases closed as complete) for the townships ``strata`` (on SQLite read
    straight from the driver, survey/driver_sql.py: a worker asks after every batch of calls)."""
    session.flush()  # as the ORM statement's autoflush did
    return [(stratum_id, quota, int(n)) for stratum_id, quota, n in
            driver_sql.rows(session, _QUOTAS_AND_COMPLETES, {"ids": list(strata)})]


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


FOLDED = -1  # the shard fold() keeps the counts in; the triggers write shards 0-7
_FOLD_LOCK = 0x6D696E79  # pg_try_advisory_xact_lock key: one fold at a time
_FOLD = text(f"""
WITH shards AS (
    SELECT stratum_id, status, disposition, shard FROM case_counts
    WHERE survey_id = :survey_id AND shard <> {FOLDED} FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM case_counts c USING shards x
    WHERE c.stratum_id = x.stratum_id AND c.status = x.status AND c.disposition = x.disposition
      AND c.shard = x.shard
    RETURNING c.survey_id, c.stratum_id, c.status, c.disposition, c.n
)
INSERT INTO case_counts AS c (survey_id, stratum_id, status, disposition, shard, n)
SELECT survey_id, stratum_id, status, disposition, {FOLDED}, sum(n) FROM moved
GROUP BY survey_id, stratum_id, status, disposition HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
ON CONFLICT (stratum_id, status, disposition, shard) DO UPDATE SET n = c.n + excluded.n
""")


def fold(session: Session, survey_id: int) -> int:
    """Move survey ``survey_id``'s sharded counts into one row per count (PostgreSQL; on SQLite the
    triggers keep one row per count already) and return how many folded counts were written.

    Deadlock-free beside the workers: rows a transaction holds are passed by (``SKIP LOCKED``; the
    next fold takes them), the triggers never write shard ``FOLDED``, and only one fold runs at a
    time (an advisory lock: another fold meanwhile returns 0 at once). A trigger that meets a row
    this fold deleted waits for its commit and then inserts the row afresh."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    if not session.scalar(select(func.pg_try_advisory_xact_lock(_FOLD_LOCK))):
        return 0
    written = int(session.execute(_FOLD, {"survey_id": survey_id}).rowcount)  # type: ignore[attr-defined]
    session.execute(text(f"DELETE FROM case_counts WHERE survey_id = :survey_id AND shard = {FOLDED} AND n = 0"),
                    {"survey_id": survey_id})
    return written
