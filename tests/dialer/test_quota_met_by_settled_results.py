"""A township's quota met by a result the call service settles (a Twilio webhook, an Asterisk
hang-up), not by the worker itself: the worker notices it with that result, leases no more of
the township's cases, and stops when every quota is met, without waiting for housekeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dialer_fakes import VAULT, add_numbers, make_survey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.service import CallService
from dialer.protocol import CallRequest, CallResult
from dialer.worker import Stop, WorkerOptions, run_worker
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case, Stratum
from survey.vocabulary import CallStatus, InterviewStatus


@dataclass
class WebhookChannel:
    """Like Twilio: ``place_call`` returns at once, and each call's result reaches the call
    service later, when the call ends (here: as the virtual clock passes its end)."""

    clock: VirtualClock
    service: CallService
    answering: set[str]  # townships whose residents answer and complete; others ring out
    seconds: float = 240.0
    name: str = "webhooks"
    pending: list[tuple[datetime, int, CallResult]] = field(default_factory=list)
    settled: list[tuple[datetime, str, CallResult]] = field(default_factory=list)  # (at, township, result)

    def preflight(self, survey_id: int) -> None:
        """Always ready."""

    def place_call(self, request: CallRequest) -> None:
        self.lines_in_use()  # results of calls that ended meanwhile arrive whenever they do
        now, end = self.clock.now(), self.clock.now() + timedelta(seconds=self.seconds)
        town = self._township(request.case_id)
        result = (CallResult(CallStatus.ANSWERED, now, end, answered_at=now + timedelta(seconds=5),
                             interview_status=InterviewStatus.COMPLETE) if town in self.answering
                  else CallResult(CallStatus.NO_ANSWER, now, end))
        self.pending.append((end, request.attempt_id, result))

    def lines_in_use(self) -> int:
        """The calls still on; those that ended meanwhile are settled first, as their webhooks would be."""
        now = self.clock.now()
        for end, attempt_id, result in sorted(p for p in self.pending if p[0] <= now):
            self.service.finish(attempt_id, result)
            self.settled.append((end, self._township_of_attempt(attempt_id), result))
        self.pending = [p for p in self.pending if p[0] > now]
        return len(self.pending)

    def _township(self, case_id: int) -> str:
        with session_scope(self.service.sessions) as s:
            return s.scalars(select(Stratum.code).join(Case, Case.stratum_id == Stratum.id)
                             .where(Case.id == case_id)).one()

    def _township_of_attempt(self, attempt_id: int) -> str:
        with session_scope(self.service.sessions) as s:
            case_id = s.scalars(select(CallAttempt.case_id).where(CallAttempt.id == attempt_id)).one()
        return self._township(case_id)


def _attempts_started(sessions: sessionmaker[Session], town: str) -> list[datetime]:
    with session_scope(sessions) as s:
        return list(s.scalars(select(CallAttempt.started_at).join(Case, Case.id == CallAttempt.case_id)
                              .join(Stratum, Stratum.id == Case.stratum_id).where(Stratum.code == town)))


def test_a_township_filled_by_settled_results_gets_no_more_calls(sessions: sessionmaker[Session],
                                                                 clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        add_numbers(s, make_survey(s, clock, quotas=(2, 8)), 40, clock.now())
    channel = WebhookChannel(clock, CallService(sessions, clock), answering={"T01"}, seconds=60)
    run_worker(sessions, channel, clock, VAULT,
               WorkerOptions(survey="S1", owner="w1", lines=4, until=clock.now() + timedelta(hours=2)))
    filled_at = sorted(at for at, town, r in channel.settled if town == "T01"
                       and r.interview_status == InterviewStatus.COMPLETE)[1]
    later = [t for t in _attempts_started(sessions, "T01") if t > filled_at]
    assert later == []  # not one more call to the full township
    assert len(_attempts_started(sessions, "T02")) > 20  # the other township went on being dialled


def test_the_worker_stops_when_settled_results_meet_every_quota(sessions: sessionmaker[Session],
                                                                clock: VirtualClock) -> None:
    with session_scope(sessions) as s:
        add_numbers(s, make_survey(s, clock, quotas=(2,)), 20, clock.now())
    channel = WebhookChannel(clock, CallService(sessions, clock), answering={"T01"})
    report = run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey="S1", owner="w1", lines=1,
                                                                       until_done=True))
    assert report.stop_reason == Stop.QUOTAS_MET
    last = max(at for at, _town, _r in channel.settled)
    assert report.ended - last <= timedelta(seconds=10)  # not at the next housekeeping, minutes later
    assert len(_attempts_started(sessions, "T01")) == 2



def test_a_township_filled_while_a_batch_is_placed_gets_no_more_of_it(sessions: sessionmaker[Session],
                                                                     clock: VirtualClock) -> None:
    """A batch of twenty calls placed two a second; the township's two completes come back after
    three seconds, through the service: the calls of the batch not yet placed then are withdrawn."""
    with session_scope(sessions) as s:
        add_numbers(s, make_survey(s, clock, quotas=(2,)), 40, clock.now())
    channel = WebhookChannel(clock, CallService(sessions, clock), answering={"T01"}, seconds=3)
    report = run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey="S1", owner="w1", lines=30,
                                                                       until_done=True))
    assert report.stop_reason == Stop.QUOTAS_MET
    placed = len(_attempts_started(sessions, "T01"))
    assert placed <= 12, placed  # without the check, the whole batch (20) is placed
