"""The dialling loop of one worker process. Several may run against one PostgreSQL.

Each turn: housekeeping now and then (take back expired leases, enforce do-not-call and quotas,
release replicates, notice the end), then lease as many due cases as there are free lines,
place the calls, and apply the results - each step its own short transaction. Nothing is
dialled while no calling window is open, and the window is checked again just before each call.

With a :class:`~survey.clock.VirtualClock` the loop never waits: it jumps to the next event (a
case falling due, a line freeing up, the next window), so days of fieldwork take seconds. With
a real clock it sleeps at most ``poll_seconds`` at a time, because other workers and the
channels' webhooks change the queue too.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from dialer import attempts, counts, dnc, leases, quotas, run_ahead, table_stats, workers
from dialer.callerid import CallerIdPool
from dialer.cases import DIALABLE, status_is
from dialer.outcomes import Applied, apply_results
from dialer.pacer import Pacer
from dialer.policy import DialPolicy
from dialer.protocol import CallResult, Channel, Overlapping, Tidying
from dialer.quotas import StratumProgress
from dialer.streak import Failed, Streak
from survey import aapor, driver_sql
from survey.clock import Clock, SystemClock, VirtualClock
from survey.db import session_scope
from survey.models import Case, Survey
from survey.phones import PhoneVault
from survey.transactions import DEFAULT_RETRY, RetryPolicy, run_transaction
from survey.vocabulary import AttemptStatus, CallStatus, InterviewStatus, SurveyStatus

T = TypeVar("T")

# The earliest next attempt among dialable cases: one minimum per status (each an index lookup),
# then the least of them, in one statement.
_FIRST_DUE = union_all(*(select(func.min(Case.next_attempt_at).label("due")).where(
    Case.survey_id == bindparam("survey_id"), status_is(status)) for status in DIALABLE)).subquery()
_NEXT_DUE = select(func.min(_FIRST_DUE.c.due))
# With nothing left to dial the round may be over: housekeeping looks this soon, not at its hour.
END_CHECK = timedelta(seconds=5)
# While a batch is placed, how often to look for townships filled by results settled elsewhere
# (webhooks, the Asterisk app): their calls still waiting in the batch are then withdrawn.
QUOTA_RECHECK = timedelta(seconds=2)


class Stop:
    QUOTAS_MET = "every township reached its quota"
    NO_CASES = "no dialable case left"
    FIELD_ENDED = "field period ended"
    TIME_LIMIT = "time limit reached"
    UNTIL = "run-until time reached"
    NOTHING_DUE = "nothing due now"
    WINDOW_CLOSED = "no calling window open now"
    NO_WINDOWS = "no calling window ahead"
    SURVEY_STOPPED = "survey paused or closed"
    CHANNEL_FAILING = "the channel failed calls in a row"
    ASKED = "asked to stop (SIGTERM or SIGINT)"


def default_owner() -> str:
    """A worker's name in leases and attempts: host and process."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class WorkerOptions:
    survey: str  # survey code
    owner: str = field(default_factory=default_owner)
    until_done: bool = True  # False: dial what is due now, then return
    max_seconds: float | None = None  # wall-clock limit
    until: datetime | None = None  # clock-time limit
    lines: int | None = None  # this worker's lines (overrides the survey's trunks)
    cps: float | None = None
    poll_seconds: float = 1.0  # longest real-time sleep
    housekeeping_every: timedelta = timedelta(minutes=5)
    # A virtual clock also leases for the lines that free up this soon, and places those calls as
    # their lines free: several times fewer (and larger) transactions for the same calls. A case
    # falling due meanwhile waits for the next batch, so a booked callback may go out this late.
    lease_ahead: timedelta = timedelta(minutes=5)
    # A virtual clock's pick that took everything due also leases the cases falling due this soon
    # (not past the next housekeeping nor the shortest retry delay), dials them as they fall due
    # and stores their results together: the same calls in far fewer transactions (see
    # dialer/run_ahead.py). Zero: lease only what is due (as with a real clock).
    lease_due_ahead: timedelta = timedelta(minutes=5)
    progress_every_s: float = 0.5  # wall-clock seconds between progress reports
    retry: RetryPolicy = DEFAULT_RETRY  # a transaction the database failed under
    max_channel_failures: int = 5  # the channel failing this many calls in a row stops the worker
    # Dead workers (heartbeat older than stale_after) lose their leases to this one within
    # stale_after + takeover_every_s (+ one turn): looked for between turns, not only at housekeeping.
    heartbeat_every_s: float = workers.HEARTBEAT_EVERY_S
    stale_after: timedelta = workers.STALE_AFTER
    takeover_every_s: float = workers.TAKEOVER_EVERY_S


@dataclass(frozen=True)
class Progress:
    """A snapshot for a live display. ``strata`` is refreshed at housekeeping and after every
    complete this worker records; the counts of calls are this worker's."""

    now: datetime
    elapsed_s: float
    placed: int
    results: int
    dispositions: Mapping[str, int]
    strata: tuple[StratumProgress, ...]
    lines_in_use: int
    window_open: bool
    stop_reason: str | None = None


@dataclass(frozen=True)
class WorkerReport:
    stop_reason: str
    placed: int
    results: int
    dispositions: Mapping[str, int]
    elapsed_s: float
    started: datetime
    ended: datetime
    channel_error: str | None = None  # the last error of the failures that stopped the worker
    withdrawn: int = 0  # calls taken back then: their cases are in the queue again


def run_worker(factory: sessionmaker[Session], channel: Channel, clock: Clock, vault: PhoneVault,
               options: WorkerOptions, progress: Callable[[Progress], None] | None = None,
               stop: threading.Event | None = None) -> WorkerReport:
    """Dial the survey ``options.survey`` until a stop condition holds, or ``stop`` is set; see
    :class:`Stop`. Calls the channel still carries then are the caller's to drain."""
    return Worker(factory, channel, clock, vault, options, progress, stop).run()


class _Filling:
    """Townships that reach their quota while a batch is being dialled: their remaining calls are
    not placed but withdrawn, and the quota then finalises those cases (a booked callback or a
    partial keeps its place and is dialled later). Townships already full when the batch was
    leased are not counted: what is leased there is just such callbacks and partials."""

    def __init__(self, strata: list[StratumProgress]) -> None:
        self._left = {s.stratum_id: s.remaining for s in strata if s.quota > 0 and not s.filled}

    def note(self, stratum_id: int, result: CallResult) -> None:
        if result.status == CallStatus.ANSWERED and result.interview_status == InterviewStatus.COMPLETE \
                and stratum_id in self._left:
            self._left[stratum_id] -= 1

    def filled(self, stratum_id: int) -> bool:
        return self._left.get(stratum_id, 1) <= 0

    def settled_elsewhere(self, strata: list[StratumProgress]) -> None:
        """Take up townships the database shows filled (by results the call service settled)."""
        for s in strata:
            if s.filled and s.stratum_id in self._left:
                self._left[s.stratum_id] = 0


class _Placed:
    """A call placed on a channel that answers on return (not :class:`~dialer.protocol.Overlapping`):
    its outcome, or the channel's error, with what the worker asks of a ``Future`` - without a
    Future's lock and condition, which cost several microseconds a call."""

    __slots__ = ("_result", "_error")

    def __init__(self, result: CallResult | None, error: Exception | None = None) -> None:
        self._result, self._error = result, error

    def done(self) -> bool:
        return True

    def exception(self) -> Exception | None:
        return self._error

    def result(self) -> CallResult | None:
        if self._error is not None:
            raise self._error
        return self._result


class _Started(NamedTuple):
    dial: attempts.Dial
    at: datetime
    future: Future[CallResult | None] | _Placed


@dataclass
class _Batch:
    """Where a batch's calls went: to settle now, to withdraw, still going on, or left alone
    (``stale``: see :meth:`Worker._apply`)."""

    filling: _Filling
    done: list[Failed] = field(default_factory=list)
    unplaced: list[attempts.Dial] = field(default_factory=list)
    waiting: list[attempts.Dial] = field(default_factory=list)
    stale: list[attempts.Dial] = field(default_factory=list)
    stop: str | None = None


class Worker:
    def __init__(self, factory: sessionmaker[Session], channel: Channel, clock: Clock, vault: PhoneVault,
                 options: WorkerOptions, progress: Callable[[Progress], None] | None,
                 stop: threading.Event | None = None) -> None:
        self.factory, self.channel, self.clock, self.vault = factory, channel, clock, vault
        self.options, self.progress, self.stop = options, progress, stop or threading.Event()
        self._virtual = isinstance(clock, VirtualClock)  # asked several times a call: once
        with session_scope(factory) as s:
            survey = s.scalars(select(Survey).where(Survey.code == options.survey)).first()
            if survey is None:
                raise LookupError(f"no survey {options.survey!r}")
            self.survey_id = survey.id
            self.policy = DialPolicy.from_survey(survey)
            self.calendar = self.policy.calendar
            self._follow(survey)
            self.callers = CallerIdPool(self.policy.pacing.trunks, self.policy.pacing.caller_id_health)
            self.callers.seed(s, survey.id)
        self.pacer = Pacer(self.policy.pacing, lines=options.lines, cps=options.cps)
        # Protocol checks cost microseconds each: once, not per call.
        self.overlapping = channel if isinstance(channel, Overlapping) else None
        self.open_until = clock.now()  # the calling window is open until then (see _window_open)
        self.strata: list[StratumProgress] = []
        # the last allotment: of these townships, for (n, overdial) - see _allocate
        self._allotted: tuple[list[StratumProgress], tuple[int, float], tuple[quotas.Allotment, ...]] | None = None
        self.ahead = run_ahead.RunAhead()
        self.quiet_until: datetime | None = None  # virtual clock: nothing is due before then
        self.next_housekeeping = self.quotas_checked = clock.now()
        self.next_takeover = time.monotonic()  # wall time: heartbeats are real time whatever the clock
        self.next_analysis = time.monotonic()  # wall time too (see dialer/table_stats.py)
        self.heartbeat: workers.Heartbeat | None = None  # while running
        self.placed = self.results = self.withdrawn = 0
        self.streak = Streak(options.max_channel_failures)
        self.dispositions: Counter[str] = Counter()
        self.started, self.wall0, self.last_report = clock.now(), time.monotonic(), 0.0

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> WorkerReport:
        reason = None
        self._txn(self._check_in)
        with workers.Heartbeat(self.factory, self.options.owner, self.options.heartbeat_every_s,
                               self.options.stale_after) as self.heartbeat:
            while reason is None:
                reason = self._turn()
            self._run_ahead_ends()
            self._settle_held()
        self._report(reason)
        failing = reason == Stop.CHANNEL_FAILING
        return WorkerReport(reason, self.placed, self.results, dict(self.dispositions),
                            time.monotonic() - self.wall0, self.started, self.clock.now(),
                            self.streak.last_error if failing else None, self.withdrawn)

    def _turn(self) -> str | None:
        now = self.clock.now()
        reason = self._limit_reached(now)
        if reason is None and now >= self.next_housekeeping:
            reason = self._housekeeping(now)
        if reason is not None:
            return reason
        if time.monotonic() >= self.next_takeover:
            self._txn(self._take_over)
        if self.field_start is not None and now < self.field_start:
            self._wait_until(self.field_start)
            return None
        if not self._window_open(now):
            return self._wait_for_window(now)
        free = self.pacer.free_lines(now, self.channel.lines_in_use())
        if free < self.pacer.refill_at():
            self._wait_until(self.pacer.next_event(now))
            return None
        if self.quiet_until is not None and now < self.quiet_until:
            self._wait_until(min(t for t in (self.quiet_until, self.pacer.next_event(now)) if t is not None))
            return None
        ahead = self._lease_ahead
        n = min(self.pacer.free_lines(now, self.channel.lines_in_use(), within=ahead), self.policy.pacing.batch_size)
        dials = self._from_pending(now, n, ahead) if self.ahead.pending else \
            self._txn(lambda s: self._lease(s, now, n, ahead))
        if not dials:
            if not self.options.until_done and self.pacer.lines_in_use(now) == 0:
                return Stop.NOTHING_DUE
            self._wait_until(self._next_wake(now))
            return None
        reason = self._dial(dials)
        self._report()
        return reason

    def _check_in(self, session: Session) -> None:
        """Register this worker; restarted under the same name, first take back what the dead
        predecessor held."""
        if workers.check_in(session, self.options.owner, SystemClock().now()):
            leases.reap(session, self.survey_id, self.clock, self.policy, lost=[self.options.owner])

    def _take_over(self, session: Session) -> None:
        """Take back the leases of workers whose heartbeat stopped (see dialer/workers.py)."""
        self.next_takeover = time.monotonic() + self.options.takeover_every_s
        dead = self._dead(session)
        if dead:
            leases.reap(session, self.survey_id, self.clock, self.policy, lost=dead)

    def _dead(self, session: Session) -> list[str]:
        return [name for name in workers.lost(session, SystemClock().now(), self.options.stale_after)
                if name != self.options.owner]

    def _limit_reached(self, now: datetime) -> str | None:
        if self.stop.is_set():
            return Stop.ASKED
        if self.options.max_seconds is not None and time.monotonic() - self.wall0 >= self.options.max_seconds:
            return Stop.TIME_LIMIT
        if self.options.until is not None and now >= self.options.until:
            return Stop.UNTIL
        if self.field_end is not None and now >= self.field_end:
            return Stop.FIELD_ENDED
        return None

    def _window_open(self, now: datetime) -> bool:
        """``calendar.is_open``, asked once per window rather than for every call."""
        if now < self.open_until:
            return True
        end = self.calendar.window_end(now)
        self.open_until = end if end is not None else now
        return end is not None

    def _over(self, now: datetime) -> bool:
        """The run-until time or the end of the field period has come (a call waiting for its line
        is not placed then)."""
        until, end = self.options.until, self.field_end  # asked before every call: no generator
        return (until is not None and now >= until) or (end is not None and now >= end)

    def _wait_for_window(self, now: datetime) -> str | None:
        if not self.options.until_done:
            return Stop.WINDOW_CLOSED
        opens = self.calendar.next_open(now)
        if opens is None:
            return Stop.NO_WINDOWS
        self._wait_until(opens)
        return None

    # -- housekeeping ----------------------------------------------------------------------

    def _housekeeping(self, now: datetime) -> str | None:
        self._run_ahead_ends()
        self._settle_held()  # before their leases could expire
        status, released = self._txn(lambda s: self._tidy(s, now))
        self._txn(lambda s: counts.fold(s, self.survey_id))  # a transaction of its own: it locks no case
        if time.monotonic() >= self.next_analysis:  # real time, as autovacuum: a virtual day passes in seconds
            self.next_analysis = time.monotonic() + table_stats.NAPTIME_S
            self._txn(table_stats.refresh)  # a transaction of its own too
        if isinstance(self.channel, Tidying):
            self.channel.housekeeping()
        self.next_housekeeping = now + self.options.housekeeping_every
        self.quiet_until = None  # housekeeping may have released or reopened cases
        if status in (SurveyStatus.PAUSED, SurveyStatus.CLOSED):
            return Stop.SURVEY_STOPPED
        if quotas.all_filled(self.strata):
            return Stop.QUOTAS_MET
        if not released and not any(s.dialable or s.leased for s in self.strata):
            return Stop.NO_CASES
        return None

    def _tidy(self, session: Session, now: datetime) -> tuple[str, bool]:
        survey = session.get(Survey, self.survey_id)
        assert survey is not None
        self._follow(survey)
        leases.reap(session, self.survey_id, self.clock, self.policy, lost=self._dead(session))
        dnc.sweep(session, self.survey_id, now)
        strata = quotas.progress(session, self.survey_id)
        filled = sum(quotas.fill(session, s.stratum_id, now) for s in strata if s.filled and s.dialable)
        released = quotas.release_replicates(session, strata, self.policy.retry.release_open_per_remaining, now)
        self.strata = quotas.progress(session, self.survey_id) if filled or released else strata
        return survey.status, bool(released)

    def _follow(self, survey: Survey) -> None:
        """Take up changed fieldwork settings (windows, holidays, retries, field period)."""
        policy = DialPolicy.from_survey(survey)
        if policy != self.policy:
            self.policy, self.calendar, self.open_until = policy, policy.calendar, datetime.min
        self.field_start, self.field_end = survey.field_start, survey.field_end

    # -- leasing and dialling --------------------------------------------------------------

    def _lease(self, session: Session, now: datetime, n: int, ahead: timedelta) -> list[attempts.Dial]:
        allotments = self._allocate(n)
        cases = leases.lease_due(session, self.survey_id, now, n, allotments, self.options.owner,
                                 timedelta(seconds=self.policy.pacing.lease_seconds))
        if self._virtual and len(cases) < n:
            self._quiet_after_short_lease(session, now)
            self._lease_falling_due(session, now)
        trunks = self.pacer.assign(now, len(cases), within=ahead)
        caller_ids = [self.callers.choose(t) for t in trunks]
        return attempts.begin(session, cases, trunks, caller_ids, now=now, owner=self.options.owner,
                              channel=self.channel.name, vault=self.vault,
                              ring_timeout_s=self.policy.pacing.ring_timeout_s)

    def _allocate(self, n: int) -> Sequence[quotas.Allotment]:
        """``quotas.allocate`` of the townships as last known: asked again with the same townships
        (``strata`` is replaced, never changed, when they change) and ``n``, the same answer - a
        virtual clock's run-ahead asks at every turn."""
        overdial = self.policy.pacing.stratum_overdial
        last = self._allotted
        if last is None or last[0] is not self.strata or last[1] != (n, overdial):
            last = self._allotted = (self.strata, (n, overdial), tuple(quotas.allocate(self.strata, n, overdial)))
        return last[2]

    def _quiet_after_short_lease(self, session: Session, now: datetime) -> None:
        """A virtual clock's pick that came back short took everything due now (unless a cap held
        some back): look up, in the same transaction, when the next case falls due. Until then
        (brought forward by this worker's own results, see :meth:`_learn`) the worker does not
        lease again, rather than finding out with an empty lease when lines free up."""
        due = self._next_due(session)
        self.quiet_until = due if due is not None and due > now else None

    def _lease_falling_due(self, session: Session, now: datetime) -> None:
        """After a short pick that left nothing due behind, lease what falls due up to a horizon
        (dialer/run_ahead.py): before the next housekeeping, a limit, or any retry falling due."""
        step = min([self.options.lease_due_ahead, *(r.delay for r in self.policy.retry.rules.values())])
        if self.quiet_until is None or step <= timedelta(0) or not self.options.until_done:
            return
        tick = timedelta(microseconds=1)
        horizon = min(t for t in (now + step - tick, self.next_housekeeping - tick, self.options.until,
                                  self.field_end) if t is not None)
        if self.quiet_until <= horizon:
            self.ahead.pending = {a.id: a for a in run_ahead.lease_ahead(
                session, self.survey_id, now, horizon, owner=self.options.owner, channel=self.channel.name,
                vault=self.vault, policy=self.policy)}

    def _from_pending(self, now: datetime, n: int, ahead: timedelta) -> list[attempts.Dial]:
        """:meth:`_lease` from the cases leased ahead: what it would have leased now, in its order.
        The last of them taken, the results so far are stored (as the lease would have found
        them) and the database says when the next case falls due."""
        allotments = self._allocate(n)
        chosen = self.ahead.take(now, n, allotments)
        if not self.ahead.pending:
            due = self._run_ahead_ends(lambda s: self._next_due(s))
        else:
            due = self.ahead.next_due()
        if len(chosen) < n:
            self.quiet_until = due if due is not None and due > now else None
        trunks = self.pacer.assign(now, len(chosen), within=ahead)
        return [self.ahead.route(a, t, self.callers.choose(t)) for a, t in zip(chosen, trunks, strict=True)]

    def _run_ahead_ends(self, then: Callable[[Session], T] | None = None) -> T | None:
        """Store the deferred results and give back the cases leased ahead not yet dialled; then
        ``then`` in the same transaction."""
        if not self.ahead.active:
            return None if then is None else self._txn(then)
        gave_back = bool(self.ahead.pending)

        def work(session: Session) -> tuple[list[run_ahead.Settled], T | None]:
            owner = self.options.owner if gave_back else None
            return self.ahead.store(session, self.clock, self.policy, owner), None if then is None else then(session)

        settled, out = self._txn(work)
        self.ahead.stored(gave_back)
        self._learn_outcomes([s.applied for s in settled])
        return out

    def _dial(self, dials: list[attempts.Dial]) -> str | None:
        """Place the calls, up to the channel's ``overlap`` of them starting at once
        (:class:`~dialer.protocol.Overlapping`; others one by one), their outcomes taken in the
        order they were placed; :attr:`Stop.CHANNEL_FAILING` when the channel failed too many in
        a row (the calls it failed and those not yet placed are then withdrawn)."""
        batch = _Batch(_Filling(self.strata))
        overlap = max(1, self.overlapping.overlap) if self.overlapping is not None else 1
        starting: deque[_Started] = deque()
        for i, dial in enumerate(dials):
            self._wait_until(self.pacer.send_time(dial.trunk, self.clock.now()), sleep_only=True)
            now = self.clock.now()
            if self.heartbeat is not None and self.heartbeat.lapsed():  # taken for dead: the leases may be gone
                batch.stale = dials[i:]
                break
            if self._withheld(now, dial, batch.filling):
                batch.unplaced.append(dial)
                continue
            starting.append(self._start(dial, now))
            while starting and (len(starting) >= overlap or starting[0].future.done()):
                self._finish(starting.popleft(), batch)
            if batch.stop is not None:
                batch.unplaced += dials[i + 1:]
                break
        while starting:  # placed: their outcomes are taken even after the streak tripped
            self._finish(starting.popleft(), batch)
        if batch.stop is not None:
            batch.unplaced += [d for d, _r in self.streak.take()]
            self.withdrawn = len(batch.unplaced)
        self._apply(batch.done, batch.unplaced, batch.waiting, batch.stale)
        return batch.stop

    def _start(self, dial: attempts.Dial, now: datetime) -> _Started:
        """Hand a call to the channel and count it placed (a result known at once, as the
        simulated channel's, keeps its line busy until the call's end)."""
        future: Future[CallResult | None] | _Placed
        if self.overlapping is not None:
            future = self.overlapping.start_call(dial.request)
            known = future.result() if future.done() and future.exception() is None else None
        else:
            try:
                known = self.channel.place_call(dial.request)
                future = _Placed(known)
            except Exception as exc:
                known, future = None, _Placed(None, exc)
        self.pacer.sent(dial.trunk, now, known.ended_at if known else None)
        self.placed += 1
        return _Started(dial, now, future)

    def _finish(self, started: _Started, batch: _Batch) -> None:
        """Take a placed call's outcome (waiting for it if need be): a channel failure is held by
        the streak (tripping it stops the batch); anything else ends the streak, unless it has
        tripped already - its failures are then withdrawn."""
        dial, now = started.dial, started.at
        result = self._outcome(started)
        if result is not None:
            self.pacer.observe(result, now)
            if result.channel_failed:
                if self.streak.fail(dial, result) and batch.stop is None:
                    batch.stop = Stop.CHANNEL_FAILING
                return
        if batch.stop is None:
            batch.done += self.streak.broken()
        if result is None:
            batch.waiting.append(dial)
            self._recheck_quotas(batch.filling, now)
        else:
            batch.done.append((dial, result))
            batch.filling.note(dial.stratum_id, result)

    def _recheck_quotas(self, filling: _Filling, now: datetime) -> None:
        """A call whose result comes back through the call service fills its township there;
        every :data:`QUOTA_RECHECK` the batch learns of it, so the rest of the batch spares it."""
        if now < self.quotas_checked + QUOTA_RECHECK:
            return
        self.quotas_checked = now
        filling.settled_elsewhere(self._txn(lambda s: quotas.progress(s, self.survey_id)))

    def _withheld(self, now: datetime, dial: attempts.Dial, filling: _Filling) -> bool:
        """A call of the batch not to place: the window closed, a limit came, its township
        filled, or the worker was asked to stop."""
        return (not self._window_open(now) or self._over(now) or filling.filled(dial.stratum_id)
                or self.stop.is_set())

    def _settle_held(self) -> None:
        """Settle the channel's failures held so far as ordinary failed calls."""
        self._apply(self.streak.take(), [], [])

    def _apply(self, done: list[Failed], unplaced: list[attempts.Dial], waiting: list[attempts.Dial],
               stale: list[attempts.Dial] | None = None) -> None:
        """Store a batch's results; ``stale``: calls not placed because this worker may have been
        taken for dead meanwhile - withdrawn if their cases are still its own, else left alone.
        Results of calls leased ahead wait to be stored together, unless they change what the
        next calls are (dialer/run_ahead.py)."""
        if self.ahead.pending and not (stale or unplaced or waiting) and self._foreseen(done):
            self.ahead.defer(done, self.clock.now())
            self._learn_calls(done, [_complete(r) for _d, r in done])
            return
        self._run_ahead_ends()
        if stale:
            self._txn(lambda s: [attempts.withdraw_if_held(s, d.request.attempt_id, self.options.owner,
                                                           self.clock.now(), self.policy) for d in stale])
            self.quiet_until = None
        if done or unplaced or waiting:
            applied = self._txn(lambda s: self._settle(s, done, unplaced, waiting))
            self._learn(done, applied)
        if unplaced:
            self.quiet_until = None  # they are due again at the next window start

    def _outcome(self, started: _Started) -> CallResult | None:
        try:
            return started.future.result()
        except Exception as exc:  # a provider refusing or failing: back off, retry the case later
            self.pacer.push_back(started.at)
            return CallResult(CallStatus.FAILED, started.at, self.clock.now(), hangup_cause="channel_error",
                              error=f"{type(exc).__name__}: {exc}")

    def _settle(self, session: Session, done: list[tuple[attempts.Dial, CallResult]],
                unplaced: list[attempts.Dial], waiting: list[attempts.Dial]) -> list[Applied | None]:
        now = self.clock.now()
        for dial in unplaced:  # first: a township filled by this batch's results finalises them
            attempts.withdraw(session, dial.request.attempt_id, now, self.policy)
        outcomes = apply_results(session, [(d.request.attempt_id, r) for d, r in done], self.clock,
                                 policy=self.policy) if done else []
        for dial in waiting:
            attempts.advance(session, dial.request.attempt_id, AttemptStatus.INITIATED, now)
        filled = {s.stratum_id for s in self.strata if s.filled}
        for stratum_id in {d.stratum_id for d, _r in done} & filled:
            quotas.fill(session, stratum_id, now)
        return outcomes

    def _foreseen(self, done: list[tuple[attempts.Dial, CallResult]]) -> bool:
        """Results that change nothing for the other calls leased ahead: no callback asked for
        (it may fall due among them), no opt-out (do-not-call) or operator, no township filled."""
        if any(r.callback_at is not None or r.interview_status in (InterviewStatus.OPTED_OUT, InterviewStatus.OPERATOR)
               for _d, r in done):
            return False
        completes = Counter(d.stratum_id for d, r in done if _complete(r))
        return not any(s.quota > 0 and (s.filled or s.remaining <= completes[s.stratum_id])
                       for s in self.strata if s.stratum_id in {d.stratum_id for d, _r in done})

    def _learn(self, done: list[tuple[attempts.Dial, CallResult]], applied: list[Applied | None]) -> None:
        self._learn_calls(done, [outcome is not None and outcome.temp == aapor.COMPLETE for outcome in applied])
        self._learn_outcomes(applied)

    def _learn_calls(self, done: list[tuple[attempts.Dial, CallResult]], completes: list[bool]) -> None:
        for (dial, result), complete in zip(done, completes, strict=True):
            self.results += 1
            self.callers.record(dial.request.caller_id, result.status)
            if complete:
                self._count_complete(dial.stratum_id)
        if quotas.all_filled(self.strata):
            self.next_housekeeping = self.clock.now()  # confirm against the database right away

    def _learn_outcomes(self, applied: list[Applied | None]) -> None:
        for outcome in applied:
            if outcome is None:
                continue
            self.dispositions[outcome.temp] += 1
            if self.quiet_until is not None and outcome.next_attempt_at is not None:
                self.quiet_until = min(self.quiet_until, outcome.next_attempt_at)

    def _count_complete(self, stratum_id: int) -> None:
        self.strata = [replace(s, completes=s.completes + 1) if s.stratum_id == stratum_id else s
                       for s in self.strata]

    # -- waiting ---------------------------------------------------------------------------

    def _next_wake(self, now: datetime) -> datetime | None:
        """The next case falling due or line freeing up. A real clock also wakes for housekeeping,
        since other workers change the queue meanwhile. On a virtual clock nobody else does, so
        until the next case falls due (or this worker's own results bring one forward) there is
        no point in asking the database again."""
        due = self.ahead.next_due() if self.ahead.pending else self._txn(self._next_due)
        if due is None:
            self.next_housekeeping = min(self.next_housekeeping, now + END_CHECK)
        if self._virtual:
            self.quiet_until = due if due is not None and due > now else None
        times = [t for t in (due, self.pacer.next_event(now)) if t is not None and t > now]
        if not self._virtual or not times:
            times.append(self.next_housekeeping)
        return min((t for t in times if t > now), default=None)

    def _next_due(self, session: Session) -> datetime | None:
        # survey/driver_sql.py: on SQLite straight to the driver (asked whenever the worker waits),
        # after a flush as the ORM statement's autoflush did
        session.flush()
        due: datetime | None = driver_sql.rows(session, _NEXT_DUE, {"survey_id": self.survey_id})[0][0]
        return due

    def _wait_until(self, when: datetime | None, *, sleep_only: bool = False) -> None:
        """Move to ``when``: a virtual clock jumps there (never past a limit, so stops happen on
        time); a real clock sleeps at most ``poll_seconds`` (``sleep_only``: the full wait)."""
        now = self.clock.now()
        if when is None or when <= now:
            if sleep_only:  # the dialling loop's usual case: the call may go now
                return
            when = now + timedelta(seconds=self.options.poll_seconds if not self._virtual else 60)
        when = min([when, *(t for t in (self.options.until, self.field_end) if t is not None and t > now)])
        seconds = (when - now).total_seconds()
        if not self._virtual and not sleep_only:
            seconds = min(seconds, self.options.poll_seconds)
        self.clock.sleep(seconds)

    @property
    def _lease_ahead(self) -> timedelta:
        """A real clock leases only for free lines: waiting for a line would block the loop."""
        return self.options.lease_ahead if self._virtual else timedelta(0)

    # -- plumbing --------------------------------------------------------------------------

    def _txn(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in its own transaction, tried again by the kernel's retry policy."""
        return run_transaction(self.factory, work, self.options.retry)

    def _report(self, reason: str | None = None) -> None:
        wall = time.monotonic()
        if self.progress is None or (reason is None and wall - self.last_report < self.options.progress_every_s):
            return
        self.last_report = wall
        now = self.clock.now()
        self.progress(Progress(now, wall - self.wall0, self.placed, self.results, dict(self.dispositions),
                               tuple(self.strata), self.pacer.lines_in_use(now) + self.channel.lines_in_use(),
                               self.calendar.is_open(now),
                               reason))


def _complete(result: CallResult) -> bool:
    """The result is a complete interview (what applying it will code 1.1)."""
    return result.status == CallStatus.ANSWERED and result.interview_status == InterviewStatus.COMPLETE
