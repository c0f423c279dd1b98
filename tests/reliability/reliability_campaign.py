"""A simulated campaign dialled by `minyi dial` worker processes on PostgreSQL with a virtual
clock, what it has stored at a given moment, and the invariants that must hold after faults."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dialer_fakes import ALWAYS_OPEN, add_numbers, make_survey
from reliability_support import Child, minyi, spawn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.leases import reap
from dialer.policy import RULE_KEYS, DialPolicy
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import Answer, AuditLog, CallAttempt, Case, Interview, Survey
from survey.vocabulary import ATTEMPT_ENDED, CaseStatus, InterviewStatus

LEASE_SECONDS = 600
# Retries come a few minutes later (no day-part rotation), so that partials are redialled and resumed
# within the short campaign.
SETTINGS = {"calling_windows": ALWAYS_OPEN,
            "retry_policy": {"max_attempts": 6, "max_per_daypart": 6, "max_per_day": 6,
                             "rules": {k: {"delay_minutes": 3, "rotate": "none"} for k in RULE_KEYS}},
            "pacing": {"lease_seconds": LEASE_SECONDS, "trunks": [{"name": "sim", "lines": 4, "cps": 5}]}}
START = datetime(2026, 11, 2, 10, 30)
QUOTAS_MET = "every township reached its quota"
STOPPED_PART_WAY = (InterviewStatus.PARTIAL, InterviewStatus.IN_PROGRESS)


def create_campaign(sessions: sessionmaker[Session], quotas: tuple[int, ...], per_township: int) -> list[str]:
    """Townships T01.. of the simulated county (``minyi dial --channel simulated`` builds that
    world) with ``per_township`` numbers each; returns the numbers."""
    clock = VirtualClock(START)
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=quotas, settings=SETTINGS)
        return add_numbers(s, survey, per_township, clock.now())


def start_worker(url: str, folder: Path, name: str, start: datetime) -> Child:
    """``minyi dial`` on the simulated channel, its virtual clock starting at ``start``."""
    args = minyi("dial", "--survey", "S1", "--channel", "simulated", "--clock", "virtual", "--until-done",
                 "--quiet", "--worker-id", name, "--start", start.strftime("%Y-%m-%dT%H:%M:%S"))
    return spawn(args, {"MINYI_DATABASE_URL": url, "MINYI_SECRET_KEY": "test-secret"}, folder / f"{name}.log")


def resume_time(sessions: sessionmaker[Session]) -> datetime:
    """Where a restarted worker's virtual clock starts: after everything stored so far (a real
    clock never runs backwards either)."""
    with sessions() as s:
        times = [s.scalar(select(func.max(col))) for col in (CallAttempt.started_at, CallAttempt.ended_at,
                                                             Case.updated_at, Answer.answered_at)]
    latest = max([START, *(t for t in times if t is not None)])
    return datetime.fromtimestamp(math.ceil(latest.timestamp()) + 1)  # --start takes whole seconds


def attempts_placed(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(CallAttempt)) or 0)


def wait_for(condition: Callable[[], bool], child: Child, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert child.running, f"the worker ended before {what}:\n{child.output()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{child.output()}"
        time.sleep(0.01)


@dataclass(frozen=True)
class Stored:
    """The committed answers, and the interviews stopped part-way (with their current question)."""

    answers: dict[tuple[int, str], tuple[object, ...]]
    part_way: dict[int, str | None]


def stored(sessions: sessionmaker[Session]) -> Stored:
    with sessions() as s:
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})  # one snapshot for both reads
        answers = {(a.interview_id, a.question_id): (a.seq, a.status, a.code, a.codes, a.value, a.answered_at)
                   for a in s.scalars(select(Answer))}
        part_way = dict(s.execute(select(Interview.id, Interview.current_question)
                                  .where(Interview.status.in_(STOPPED_PART_WAY))).all())
    return Stored(answers, {i: q for i, q in part_way.items() if q is not None})


def reconcile(sessions: sessionmaker[Session]) -> int:
    """What the next worker's housekeeping does once the dead workers' leases ran out."""
    clock = VirtualClock(resume_time(sessions) + timedelta(seconds=LEASE_SECONDS + 1))
    with session_scope(sessions) as s:
        survey = s.scalars(select(Survey)).one()
        return reap(s, survey.id, clock, DialPolicy.from_survey(survey))


def assert_nothing_lost(sessions: sessionmaker[Session], before: Stored) -> None:
    """Every answer committed before the fault is still there, unchanged, unless the resident
    chose to start over (which the audit log records)."""
    after = stored(sessions)
    with sessions() as s:
        restarted = set(s.scalars(select(AuditLog.entity_id).where(AuditLog.action == "answers_cleared")))
    lost = {key: row for key, row in before.answers.items()
            if after.answers.get(key) != row and str(key[0]) not in restarted}
    assert not lost, f"answers lost or changed: {lost}"


def resumed_where_they_stopped(sessions: sessionmaker[Session], before: Stored) -> int:
    """Each interview stopped part-way before the fault that got further afterwards went on at the
    question it had stopped at. Returns how many did."""
    after = stored(sessions)
    with sessions() as s:
        restarted = set(s.scalars(select(AuditLog.entity_id).where(AuditLog.action == "answers_cleared")))
    first_new: dict[int, tuple[int, str]] = {}
    for (interview, question), row in after.answers.items():
        if interview in before.part_way and (interview, question) not in before.answers:
            seq = int(str(row[0]))
            first_new[interview] = min(first_new.get(interview, (seq, question)), (seq, question))
    wrong = {i: (before.part_way[i], q) for i, (_seq, q) in first_new.items()
             if str(i) not in restarted and q != before.part_way[i]}
    assert not wrong, f"interviews that did not resume at their question (stopped at, went on at): {wrong}"
    return len(first_new)


def assert_fieldwork_consistent(sessions: sessionmaker[Session]) -> None:
    """No case was dialled twice at once; every attempt has ended with a disposition; no lease is
    left; the cases' attempt counts match their attempts."""
    with sessions() as s:
        attempts = s.scalars(select(CallAttempt)).all()
        by_case: dict[int, list[CallAttempt]] = defaultdict(list)
        for a in attempts:
            by_case[a.case_id].append(a)
        for case_attempts in by_case.values():
            ordered = sorted(case_attempts, key=lambda a: (a.started_at, a.id))
            for earlier, later in zip(ordered, ordered[1:], strict=False):
                assert earlier.ended_at is not None and earlier.ended_at <= later.started_at, \
                    f"case {earlier.case_id}: attempts {earlier.id} and {later.id} overlap"
        open_attempts = [a.id for a in attempts if a.status not in ATTEMPT_ENDED or not a.temp_disposition]
        assert not open_attempts, f"attempts without a result: {open_attempts}"
        assert s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.LEASED)) == 0
        assert sum(s.scalars(select(Case.attempts))) == len(attempts)


def reconciled_after_lease_expiry(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(CallAttempt)
                            .where(CallAttempt.error.like("lease expired%"))) or 0)
