"""Township quotas: progress, which townships to dial first, stopping a filled township, and
releasing sample replicates only as they are needed.

When a township reaches its target, its open cases are settled at once: numbers never dialled
go back to the unreleased sample, the others get the final rules' code (see :func:`fill`), except two
kinds that keep their place: a case with a partial interview (cutting it would throw away
answers already given) and a case with a callback booked (an appointment promised to a
resident). Both may push the township slightly over its target; over-quota completes stay valid
interviews and weighting absorbs them. Unreleased replicates stay unreleased.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import NamedTuple

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from dialer.counts import per_township, quotas_and_completes
from dialer.final_codes import finalise_by_rules
from survey import aapor, driver_sql
from survey.models import CallAttempt, Case, Interview, Stratum
from survey.vocabulary import RESUMABLE, CaseStatus


@dataclass(frozen=True)
class StratumProgress:
    stratum_id: int
    code: str
    name: str
    quota: int
    completes: int = 0
    dialable: int = 0  # new, scheduled or callback
    fresh: int = 0  # new: released, never dialled
    leased: int = 0
    held: int = 0  # replicates not yet released
    follow_up: int = 0
    final: int = 0

    @property
    def remaining(self) -> int:
        return max(self.quota - self.completes, 0)

    @property
    def filled(self) -> bool:
        return self.quota > 0 and self.completes >= self.quota

    @property
    def ratio(self) -> float:
        return self.completes / self.quota if self.quota > 0 else 0.0


class Allotment(NamedTuple):
    """A township's part of one pick (a named tuple rather than a dataclass: a province's pick
    makes 3,350 of them, and a tuple is built several times faster)."""

    stratum_id: int
    share: int  # this stratum's part of one pick
    cap: int  # the most it may take when others leave room
    fresh: bool = True  # it has released numbers never dialled


def progress(session: Session, survey_id: int) -> list[StratumProgress]:
    """Per township: target, completes and cases by state, in code order (from the counts the
    database keeps: dialer/counts.py). The townships and their counts are two statements joined
    here: as one outer join, PostgreSQL planned a survey whose tables were not yet analysed for a
    handful of townships and went through every count for each of a province's 3,350."""
    session.flush()  # as the ORM statements' autoflush did
    params = {"survey_id": survey_id}  # straight to the driver on SQLite (survey/driver_sql.py): at every housekeeping
    counted = {row[0]: row[1:] for row in driver_sql.rows(session, _COUNTED, params)}
    return [_progress(*township, *counted.get(township[0], _NONE)) for township in
            driver_sql.rows(session, _TOWNSHIPS, params)]


_SHOWN = (CaseStatus.NEW, CaseStatus.SCHEDULED, CaseStatus.CALLBACK, CaseStatus.LEASED, CaseStatus.HELD,
          CaseStatus.FOLLOW_UP, CaseStatus.FINAL)
_NONE = (0,) * (len(_SHOWN) + 1)  # a township without cases: no counts, no completes
_COUNTED = per_township(_SHOWN)
_TOWNSHIPS = (select(Stratum.id, Stratum.code, Stratum.name_zh, Stratum.quota)
              .where(Stratum.survey_id == bindparam("survey_id")).order_by(Stratum.code))


def _progress(stratum_id: int, code: str, name: str, quota: int, new: int, scheduled: int, callback: int,
              leased: int, held: int, follow_up: int, final: int, completes: int) -> StratumProgress:
    """A township's row of :func:`progress`: the counts of :data:`_SHOWN`, then its completes."""
    return StratumProgress(stratum_id, code, name, quota, completes, new + scheduled + callback, new, leased, held,
                           follow_up, final)


def all_filled(strata: list[StratumProgress]) -> bool:
    return bool(strata) and all(s.filled for s in strata)


def fill(session: Session, stratum_id: int, now: datetime) -> int:
    """Settle a filled township's open cases, sparing partials and booked callbacks: the numbers
    never dialled go back to the unreleased sample (held: out of the case base and of every rate,
    released again if the quota is raised), the others get the final rules' code, so that a number
    that rang out stays unknown eligibility (3.x) and a refusal stays a refusal. 4.80 (quota
    filled) belongs only to a case screened into a full quota cell (AAPOR notes §2): coding
    undialled or worked numbers 4.80 moves them to not eligible, lowers e and inflates RR3/RR4.
    Returns how many cases were settled."""
    partial_attempt = exists().where(CallAttempt.case_id == Case.id, CallAttempt.temp_disposition == aapor.PARTIAL)
    partial_interview = exists().where(Interview.case_id == Case.id, Interview.status.in_(RESUMABLE))
    open_cases = and_(Case.stratum_id == stratum_id, Case.status.in_((CaseStatus.NEW, CaseStatus.SCHEDULED)),
                      Case.callback_at.is_(None), ~partial_attempt, ~partial_interview)
    worked = session.scalars(select(Case).where(open_cases, Case.attempts > 0)).all()
    finalise_by_rules(session, worked, now)
    result = session.execute(
        update(Case).where(open_cases, Case.attempts == 0)
        .values(status=CaseStatus.HELD, next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False))
    return len(worked) + int(result.rowcount or 0)  # type: ignore[attr-defined]


def fill_if_met(session: Session, stratum_ids: Iterable[int], now: datetime) -> list[int]:
    """Stop dialling the townships among ``stratum_ids`` that have just reached their target;
    returns them."""
    met = sorted(stratum_id for stratum_id, quota, completes in quotas_and_completes(session, list(stratum_ids))
                 if 0 < quota <= completes)
    for stratum_id in met:
        fill(session, stratum_id, now)
    return met


def release_replicates(session: Session, strata: list[StratumProgress], open_per_remaining: float,
                       now: datetime) -> dict[str, int]:
    """Release the next replicate of each township that has dialled every number released so far
    at least once and whose open cases run low against what it still needs (fewer than
    ``open_per_remaining`` per remaining complete; with no quota: none open). Working a replicate
    through before opening the next keeps the centre from burning numbers it will not need.
    Returns township code -> replicate released."""
    released: dict[str, int] = {}
    for s in strata:
        if not s.held or s.filled or s.fresh:
            continue
        open_cases = s.dialable + s.leased
        low = open_cases < open_per_remaining * s.remaining if s.quota > 0 else open_cases == 0
        if not low:
            continue
        replicate = session.scalar(select(func.min(Case.replicate)).where(
            Case.stratum_id == s.stratum_id, Case.status == CaseStatus.HELD))
        if replicate is None:
            continue
        session.execute(update(Case).where(Case.stratum_id == s.stratum_id, Case.status == CaseStatus.HELD,
                                           Case.replicate == replicate)
                        .values(status=CaseStatus.NEW, next_attempt_at=now, updated_at=now)
                        .execution_options(synchronize_session=False))
        released[s.code] = int(replicate)
    return released


def allocate(strata: list[StratumProgress], limit: int, overdial: float) -> list[Allotment]:
    """Split one pick of ``limit`` calls between townships, furthest behind its target first.

    Shares follow what each township still needs, so townships tend to finish together; a
    township never has more calls in flight than ``overdial`` times its remaining completes
    (most calls do not end in a complete, but many at once would overshoot the target).

    Written as whole-list steps that run in C (tuples sorted and compared, ``map``, the
    allotments made by ``tuple.__new__``) rather than a Python call per township for each
    property, key and allotment: a worker allocates again after every batch with a complete,
    and for a province's 3,350 townships that way took longer than PostgreSQL's pick."""
    dialable = [s for s in strata if s.dialable]
    if not dialable:
        return []
    behind = sorted([(s.completes / s.quota if s.quota > 0 else 0.0, s.code, i) for i, s in enumerate(dialable)])
    live = [dialable[i] for *_, i in behind]
    remaining = [max(s.quota - s.completes, 0) for s in live]
    weights = [r or 1 for r in remaining]
    total = sum(weights)
    exact = [limit * w / total for w in weights]
    shares = [math.floor(x) for x in exact]
    # the largest remainders, ties in township order (the first ``limit - sum(shares)`` of a sort)
    for _, i in heapq.nsmallest(limit - sum(shares), zip(map(operator.sub, shares, exact), itertools.count())):
        shares[i] += 1
    caps = [s.dialable if s.quota <= 0 or s.completes >= s.quota  # no target, or only the spared
            else max(0, min(s.dialable, math.ceil(overdial * r) - s.leased))  # partials and callbacks left
            for s, r in zip(live, remaining, strict=True)]
    return list(map(_allotment, zip([s.stratum_id for s in live], map(min, shares, caps), caps,
                                    [s.fresh > 0 for s in live], strict=True)))


_allotment: Callable[[tuple[int, int, int, bool]], Allotment] = partial(tuple.__new__, Allotment)
