"""Fake telephony for dialer tests: a channel that answers from a table, and helpers to build a
survey with a sample. (Module name is unique across the test tree on purpose.)"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.counts import Key, case_counts
from dialer.frames import Frame, FrameRow
from dialer.protocol import CallRequest, CallResult, ChannelNotReady
from dialer.sample import import_sample
from survey.clock import Clock
from survey.models import CallAttempt, Case, Survey
from survey.phones import PhoneVault
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import CallStatus

VAULT = PhoneVault("test-secret")
ALWAYS_OPEN = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}


@dataclass(frozen=True)
class Step:
    """One scripted call outcome."""

    status: str = CallStatus.NO_ANSWER
    interview: str | None = None  # InterviewStatus when answered
    seconds: float = 60.0  # call length on the clock
    callback_at: datetime | None = None
    hangup_cause: str | None = None
    fails: bool = False  # place_call raises (provider refuses)
    error: str | None = None  # the provider's error (a FAILED result the channel reports)


def answered(interview: str | None, seconds: float = 300.0, **kw: Any) -> Step:
    return Step(CallStatus.ANSWERED, interview, seconds, **kw)


@dataclass
class Placed:
    request: CallRequest
    at: datetime
    result: CallResult | None


@dataclass
class ScriptedChannel:
    """Answers each number from its script in turn (the last step repeats), else ``default``.
    ``real_seconds`` makes each call take that long in real time instead (multi-process tests);
    ``in_flight`` then names a file that exists while a call is running."""

    clock: Clock
    script: Mapping[str, Sequence[Step]] = field(default_factory=dict)
    default: Step | Callable[[CallRequest], Step] = Step()
    real_seconds: float = 0.0
    in_flight: Path | None = None
    name: str = "fake"
    calls: list[Placed] = field(default_factory=list)
    not_ready: str | None = None  # preflight refuses with this reason

    def preflight(self, survey_id: int) -> None:
        if self.not_ready:
            raise ChannelNotReady(self.not_ready)

    def place_call(self, request: CallRequest) -> CallResult | None:
        step = self._step(request)
        now = self.clock.now()
        if step.fails:
            self.calls.append(Placed(request, now, None))
            raise ConnectionError("provider said 503")
        if self.real_seconds:  # the call takes real time, whatever the step says
            self._wait_real()
            end = self.clock.now()
        else:
            end = now + timedelta(seconds=step.seconds)
        result = CallResult(step.status, now, end,
                            answered_at=now + timedelta(seconds=5) if step.status == CallStatus.ANSWERED else None,
                            provider_call_id=f"fake-{request.attempt_id}", interview_status=step.interview,
                            callback_at=step.callback_at, hangup_cause=step.hangup_cause, error=step.error)
        self.calls.append(Placed(request, now, result))
        return result

    def _step(self, request: CallRequest) -> Step:
        steps = self.script.get(request.number)
        if steps:
            done = sum(1 for c in self.calls if c.request.number == request.number)
            return steps[min(done, len(steps) - 1)]
        return self.default(request) if callable(self.default) else self.default

    def _wait_real(self) -> None:
        if self.in_flight:
            self.in_flight.touch()
        time.sleep(self.real_seconds)
        if self.in_flight:
            self.in_flight.unlink(missing_ok=True)

    def lines_in_use(self) -> int:
        return 0


@dataclass
class OverlappingChannel(ScriptedChannel):
    """The script's outcome of each call is decided when the call starts, in order, but its
    reply comes ``reply_s`` later in real time, from another thread (as Asterisk's reply to an
    originate does): the worker may start up to ``overlap`` calls before taking their outcomes."""

    overlap: int = 3
    reply_s: float = 0.05
    most_unanswered: int = 0  # the most calls started and not yet answered, this one included
    _replies: list[Future[CallResult | None]] = field(default_factory=list)

    def start_call(self, request: CallRequest) -> Future[CallResult | None]:
        future: Future[CallResult | None] = Future()
        self._replies.append(future)
        self.most_unanswered = max(self.most_unanswered, sum(1 for f in self._replies if not f.done()))
        try:
            result = self.place_call(request)
        except ConnectionError as exc:
            threading.Timer(self.reply_s, future.set_exception, (exc,)).start()
        else:
            threading.Timer(self.reply_s, future.set_result, (result,)).start()
        return future


def random_outcomes(seed: int, complete_share: float = 0.15) -> Callable[[CallRequest], Step]:
    """A plausible mix of outcomes for campaigns: mostly no answer and busy, some completes."""
    rng = random.Random(seed)
    table: list[tuple[float, Step]] = [
        (0.35, Step(CallStatus.NO_ANSWER, seconds=30)), (0.12, Step(CallStatus.BUSY, seconds=10)),
        (0.08, Step(CallStatus.MACHINE, seconds=40)), (0.05, Step(CallStatus.NON_WORKING, seconds=5)),
        (0.02, Step(CallStatus.FAX, seconds=10)), (0.03, Step(CallStatus.FAILED, seconds=5)),
        (0.08, answered(None, 20)), (0.06, answered("refused", 60)), (0.03, answered("screened_out", 90)),
        (0.03, answered("partial", 200)), (complete_share, answered("complete", 420)),
    ]
    weights = [w for w, _ in table]

    def pick(_request: CallRequest) -> Step:
        return rng.choices(table, weights)[0][1]

    return pick


def number(i: int) -> str:
    return f"+86138{i:08d}"


def make_survey(session: Session, clock: Clock, *, code: str = "S1", quotas: Sequence[int] = (5, 5),
                settings: dict[str, Any] | None = None) -> Survey:
    strata = [StratumSpec(f"T{i + 1:02d}", f"镇{i + 1}", f"Town {i + 1}", quota=q) for i, q in enumerate(quotas)]
    return create_survey(session, code, load_bundled(), clock, period="2026-11", strata=strata,
                         settings=settings or {})


def add_numbers(session: Session, survey: Survey, per_stratum: int, now: datetime, *, start: int = 0,
                replicate_size: int | None = None) -> list[str]:
    """Import ``per_stratum`` numbers into each township; returns them in import order."""
    rows: list[FrameRow] = []
    numbers: list[str] = []
    for s_index, s in enumerate(survey.strata):
        for i in range(per_stratum):
            n = number(start + s_index * per_stratum + i)
            numbers.append(n)
            rows.append(FrameRow(len(rows) + 2, {"number": n, "township": s.code}))
    frame = Frame("utf-8-sig", {"number": "number", "township": "township"}, (), tuple(rows))
    report = import_sample(session, survey, frame, VAULT, now, replicate_size=replicate_size, seed=1)
    assert not report.errors and report.imported == len(numbers)
    return numbers


def completing_channel(_settings: object, _sessions: object, clock: Clock) -> ScriptedChannel:
    """A channel factory as ``minyi.channels`` calls them: every call is a complete interview."""
    return ScriptedChannel(clock, default=answered("complete"))


def refused_channel(_settings: object, _sessions: object, clock: Clock) -> ScriptedChannel:
    """A channel factory whose channel fails its check before the round."""
    return ScriptedChannel(clock, default=answered("complete"), not_ready="Twilio error 20003: Authenticate")


def failing_channel(_settings: object, _sessions: object, clock: Clock) -> ScriptedChannel:
    """A channel factory whose provider refuses every call."""
    return ScriptedChannel(clock, default=Step(fails=True))


def assert_no_case_called_twice_at_once(attempts: Sequence[CallAttempt]) -> None:
    """Every case's calls one after another: each ended before the next began."""
    by_case: dict[int, list[CallAttempt]] = defaultdict(list)
    for attempt in attempts:
        by_case[attempt.case_id].append(attempt)
    for case_attempts in by_case.values():
        ordered = sorted(case_attempts, key=lambda a: a.started_at)
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            assert earlier.ended_at is not None and later.started_at >= earlier.ended_at, (earlier.id, later.id)


def assert_counts_match_cases(session: Session) -> None:
    """The counts the triggers keep (dialer/counts.py) equal a full recount of the cases."""
    recount = Counter({Key(stratum_id, status, disposition or ""): n for stratum_id, status, disposition, n in session.execute(
        select(Case.stratum_id, Case.status, Case.final_disposition, func.count())
        .group_by(Case.stratum_id, Case.status, Case.final_disposition))})
    assert case_counts(session) == recount
