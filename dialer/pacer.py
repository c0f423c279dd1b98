"""How fast one worker dials: lines per trunk, calls per second, the abandon cap, and back-off.

Channels report through ``CallResult`` what the pacer reacts to:

* an operator transfer that no staff member picked up ends with ``interview_status="operator"``
  and ``hangup_cause`` in ``ABANDON_CAUSES``; while such abandons exceed ``abandon.cap`` of the
  answered calls (over the last ``abandon.window``), the pacer dials on fewer lines, and widens
  again once the rate is back under half the cap;
* a provider pushing back (``place_call`` raising, or a failed call whose ``hangup_cause`` is in
  ``PUSHBACK_CAUSES``) pauses dialling, doubling the pause on each push-back up to ``backoff.max_s``.

A simulated call occupies its line until its ``ended_at``; an asynchronous channel counts its own
lines (``Channel.lines_in_use``), which the worker passes in as ``external``.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dialer.policy import PacingPolicy
from dialer.protocol import CallResult
from survey.vocabulary import CallStatus, InterviewStatus

_NOW = timedelta(0)
ABANDON_CAUSES = frozenset({"abandoned", "no_agent"})
PUSHBACK_CAUSES = frozenset({"rate_limited", "congestion", "429", "503"})


@dataclass
class _Trunk:
    lines: int
    interval: timedelta  # 1 / calls per second
    ends: list[datetime] = field(default_factory=list)  # heap of busy lines' end times
    next_send: datetime = datetime.min


class Pacer:
    def __init__(self, policy: PacingPolicy, *, lines: int | None = None, cps: float | None = None) -> None:
        """``lines``/``cps`` override every trunk's (this worker's share of a centre's trunks)."""
        self.policy = policy
        self._trunks = {t.name: _Trunk(lines or t.lines, timedelta(seconds=1 / (cps or t.cps)))
                        for t in policy.trunks}
        self._answered: deque[bool] = deque(maxlen=policy.abandon.window)
        self.factor = 1.0  # share of lines in use while abandons run high
        self.backoff_until: datetime | None = None
        self._backoff_s = 0.0
        self.total_lines = sum(t.lines for t in self._trunks.values())  # a trunk's lines never change

    def _prune(self, now: datetime) -> None:
        for t in self._trunks.values():
            while t.ends and t.ends[0] <= now:
                heapq.heappop(t.ends)

    def lines_in_use(self, now: datetime) -> int:
        self._prune(now)
        return self._in_use()

    def _in_use(self) -> int:
        """Lines busy, the trunks pruned already."""
        return sum(len(t.ends) for t in self._trunks.values())

    def _busy(self, trunk: _Trunk, now: datetime, within: timedelta) -> int:
        """Lines of ``trunk`` still busy ``within`` after ``now`` (as far as their ends are known);
        the trunks pruned to ``now`` already."""
        if not within:
            return len(trunk.ends)  # pruned: every end left is after now
        after = now + within
        return sum(1 for end in trunk.ends if end > after)

    def allowed_lines(self) -> int:
        return max(1, math.floor(self.total_lines * self.factor))

    def free_lines(self, now: datetime, external: int = 0, *, within: timedelta = _NOW) -> int:
        """Lines free now; with ``within``, those that free up that much later count too."""
        if self.backoff_until is not None and now < self.backoff_until:
            return 0
        self._prune(now)
        busy = sum(self._busy(t, now, within) for t in self._trunks.values())
        return max(0, self.allowed_lines() - busy - external)

    def refill_at(self) -> int:
        """Free lines worth a lease: a tenth of the lines, so a busy worker leases cases in
        batches instead of one transaction per line that frees up."""
        return max(1, self.allowed_lines() // 10)

    def assign(self, now: datetime, n: int, *, within: timedelta = _NOW) -> list[str]:
        """Trunk names for ``n`` calls, spread over the trunks with free lines (``within``: as in
        :meth:`free_lines`)."""
        self._prune(now)
        free = {name: t.lines - self._busy(t, now, within) for name, t in self._trunks.items()}
        names: list[str] = []
        while len(names) < n and any(v > 0 for v in free.values()):
            name = max(free, key=lambda k: free[k])
            names.append(name)
            free[name] -= 1
        return names

    def send_time(self, trunk: str, now: datetime) -> datetime:
        """When the next call on ``trunk`` may start under its calls-per-second limit, on a free
        line (calls leased for lines that were still busy wait for them)."""
        t = self._trunks[trunk]
        start = max(now, t.next_send)
        self._prune(now)  # once: every end left is after now
        if len(t.ends) >= t.lines:
            start = max(start, t.ends[0])
        if self._in_use() >= self.allowed_lines():
            start = max(start, min(u.ends[0] for u in self._trunks.values() if u.ends))
        return start

    def sent(self, trunk: str, now: datetime, until: datetime | None) -> None:
        """A call started on ``trunk``; a known end keeps its line busy until then."""
        t = self._trunks[trunk]
        # Sent a little late (a sleep overrunning, a busy machine), the call does not push every
        # later one back: the next keeps its place on the schedule, so the rate holds on average.
        # Later than a whole interval (a pause), the schedule starts again from now: no burst.
        t.next_send = (t.next_send if now < t.next_send + t.interval else now) + t.interval
        if until is not None and until > now:
            heapq.heappush(t.ends, until)

    def observe(self, result: CallResult, now: datetime) -> None:
        if result.status == CallStatus.FAILED:
            if result.hangup_cause in PUSHBACK_CAUSES:
                self.push_back(now)
            return
        self._backoff_s = 0.0  # the provider took a call: the next push-back starts small again
        if result.status == CallStatus.ANSWERED:
            self._answered.append(result.interview_status == InterviewStatus.OPERATOR
                                  and result.hangup_cause in ABANDON_CAUSES)
            self._steer()

    def abandon_rate(self) -> float:
        return sum(self._answered) / len(self._answered) if self._answered else 0.0

    def _steer(self) -> None:
        if len(self._answered) < min(20, self._answered.maxlen or 20):
            return
        rate, cap = self.abandon_rate(), self.policy.abandon.cap
        if rate > cap:
            self.factor = max(self.factor * 0.8, 1 / max(self.total_lines, 1))
        elif rate < cap / 2:
            self.factor = min(1.0, self.factor + 0.05)

    def push_back(self, now: datetime) -> None:
        b = self.policy.backoff
        self._backoff_s = min(b.max_s, self._backoff_s * 2 if self._backoff_s else b.initial_s)
        self.backoff_until = now + timedelta(seconds=self._backoff_s)

    def next_event(self, now: datetime) -> datetime | None:
        """The next time a line frees up or a back-off ends."""
        self._prune(now)
        times = [t.ends[0] for t in self._trunks.values() if t.ends]
        if self.backoff_until is not None and self.backoff_until > now:
            times.append(self.backoff_until)
        return min(times, default=None)
