"""Outbound caller IDs: rotation through a pool, and answer rates that reveal a number that phones
have started to label as spam (its answer rate falls well below the other numbers').

Only calls that reached a phone count: answered, versus busy, no answer or machine. Failures,
non-working numbers and faxes say nothing about how residents see the caller ID.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.policy import CallerIdHealth, Trunk
from survey.models import CallAttempt
from survey.vocabulary import CallStatus

_REACHED: dict[str, bool] = {CallStatus.ANSWERED: True, CallStatus.BUSY: False, CallStatus.NO_ANSWER: False,
            CallStatus.MACHINE: False}


def answered(outcome: str | None) -> bool | None:
    """True/False for a call that reached a phone, None for one that says nothing about the caller ID."""
    return _REACHED.get(outcome or "")


@dataclass(frozen=True)
class AnswerRate:
    key: str  # a caller ID or a trunk
    attempts: int
    answered: int
    bucket: datetime | None = None  # start of the time bucket, when asked for a series

    @property
    def rate(self) -> float:
        return self.answered / self.attempts if self.attempts else 0.0


def flag_low(rates: Iterable[AnswerRate], health: CallerIdHealth) -> set[str]:
    """Keys whose answer rate is below ``flag_ratio`` times the median of the others' (only keys
    with at least ``min_attempts`` calls take part)."""
    eligible = [r for r in rates if r.attempts >= health.min_attempts]
    flagged = set()
    for r in eligible:
        others = [o.rate for o in eligible if o.key != r.key]
        if others and r.rate < health.flag_ratio * statistics.median(others):
            flagged.add(r.key)
    return flagged


def answer_rates(session: Session, survey_id: int, *, by: str = "caller_id", since: datetime | None = None,
                 bucket: timedelta | None = None) -> list[AnswerRate]:
    """Answer rate per caller ID (or ``by="trunk"``), optionally per time bucket (a series to
    plot: a falling line is a number being labelled)."""
    column = {"caller_id": CallAttempt.caller_id, "trunk": CallAttempt.trunk}[by]
    query = select(column, CallAttempt.started_at, CallAttempt.outcome).where(CallAttempt.survey_id == survey_id)
    if since is not None:
        query = query.where(CallAttempt.started_at >= since)
    totals: dict[tuple[str, datetime | None], list[int]] = {}
    for key, started, outcome in session.execute(query):
        reached = answered(outcome)
        if reached is None:
            continue
        start = _floor(started, bucket) if bucket else None
        cell = totals.setdefault((key or "", start), [0, 0])
        cell[0] += 1
        cell[1] += int(reached)
    ordered = sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1] or datetime.min))
    return [AnswerRate(key, n, a, start) for (key, start), (n, a) in ordered]


def _floor(when: datetime, bucket: timedelta) -> datetime:
    seconds = (when - datetime.min).total_seconds()
    return datetime.min + timedelta(seconds=seconds - seconds % bucket.total_seconds())


class CallerIdPool:
    """Round-robin over each trunk's caller IDs, leaving out flagged ones while another remains."""

    def __init__(self, trunks: tuple[Trunk, ...], health: CallerIdHealth) -> None:
        self.health = health
        self._ids = {t.name: list(t.caller_ids) for t in trunks}
        self._turn = dict.fromkeys(self._ids, 0)
        self._recent: dict[str, deque[bool]] = {}
        self._answered: dict[str, int] = {}
        self.flagged: set[str] = set()

    def choose(self, trunk: str) -> str:
        """The caller ID for the next call on ``trunk`` ("" lets the channel use its default)."""
        ids = self._ids.get(trunk, [])
        if not ids:
            return ""
        usable = [i for i in ids if i not in self.flagged] if self.health.auto_rotate else ids
        usable = usable or ids
        self._turn[trunk] += 1
        return usable[self._turn[trunk] % len(usable)]

    def record(self, caller_id: str | None, outcome: str | None) -> None:
        reached = answered(outcome)
        if not caller_id or reached is None:
            return
        recent = self._recent.setdefault(caller_id, deque(maxlen=self.health.window))
        if len(recent) == recent.maxlen:
            self._answered[caller_id] -= int(recent[0])
        recent.append(reached)
        self._answered[caller_id] = self._answered.get(caller_id, 0) + int(reached)
        self.flagged = flag_low(self.rates(), self.health)

    def rates(self) -> list[AnswerRate]:
        return [AnswerRate(k, len(v), self._answered[k]) for k, v in sorted(self._recent.items())]

    def seed(self, session: Session, survey_id: int) -> None:
        """Start from the survey's latest calls, so a restarted worker remembers a labelled number."""
        ids = {i for group in self._ids.values() for i in group}
        rows = session.execute(select(CallAttempt.caller_id, CallAttempt.outcome).where(
            CallAttempt.survey_id == survey_id, CallAttempt.caller_id.in_(ids))
            .order_by(CallAttempt.id.desc()).limit(self.health.window * max(len(ids), 1))).all()
        for caller_id, outcome in reversed(rows):
            self.record(caller_id, outcome)
