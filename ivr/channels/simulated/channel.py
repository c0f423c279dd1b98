"""The simulated telephony channel: whole calls against the synthetic world, at once.

``place_call`` never moves the shared clock (the dialer's pacer owns time): the call starts at
``clock.now()``, and its answer and end times come from a local clock that the resident's
listening and thinking move forward. An answered call runs the real interview engine through
:class:`calls.interviews.InterviewSession` in one transaction of its own, committed once per call,
so answers, do-not-call rows, operator tasks and resumable partials are stored exactly as with a
real provider. Everything random is drawn from (seed, number, moment of the call), not from
database ids, so a campaign replays even when another one fills the same database meanwhile.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.interviews import InterviewSession
from calls.service import CallService, Talk
from dialer.protocol import CallRequest, CallResult, ChannelNotReady
from ivr.channels.simulated.behaviour import Behaviour, daypart
from ivr.channels.simulated.county import seeded
from ivr.channels.simulated.resident import Reacts, Resident, ResidentFactory
from ivr.channels.simulated.world import FAX, NON_WORKING, Person, World
from ivr.engine import Step
from survey.clock import Clock, VirtualClock, to_local
from survey.config import Settings
from survey.db import session_scope
from survey.models import Case, Stratum
from survey.questionnaire import Questionnaire
from survey.vocabulary import CallStatus

MAX_EVENTS = 500  # a call longer than this is a bug in a resident model, not a patient resident
RECORDING_SCHEME = "simulated://"  # recordings of simulated calls have no audio


class _Where(NamedTuple):
    township: str  # code
    timezone: str  # the survey's
    survey_id: int


class _Case(NamedTuple):
    """An answered call's case, as the request and the cache know it (no query)."""

    id: int
    survey_id: int
    language: str | None


class SimulatedChannel:
    """Implements :class:`dialer.protocol.Channel` against a :class:`World`."""

    name = "simulated"

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, world: World, seed: int = 0,
                 behaviour: Behaviour | None = None, *, resident: ResidentFactory | None = None) -> None:
        if not isinstance(world, World):
            raise ValueError("SimulatedChannel(sessions, clock, world, ...) needs a World as its third argument; "
                             "to build it from settings use ivr.channels.simulated.from_settings")
        self.sessions = sessions
        self.clock = clock
        self.world = world
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        self._resident = resident or self._modelled_resident
        self._cases: dict[int, _Where] = {}
        self.calls = CallService(sessions, clock)

    def lines_in_use(self) -> int:
        return 0  # every call is over when place_call returns

    def preflight(self, survey_id: int) -> None:
        """The world has a township for each of the survey's (it answers every question: one it
        has no opinion on gets the first plain choice)."""
        with session_scope(self.sessions) as session:
            codes = session.scalars(select(Stratum.code).where(Stratum.survey_id == survey_id)
                                    .order_by(Stratum.code)).all()
        unknown = [code for code in codes if not self._knows(code)]
        if unknown:
            towns = self.world.townships
            raise ChannelNotReady("the simulated county has no township %(codes)s (it has %(first)s..%(last)s): "
                                  "the simulated channel cannot call this survey", codes=", ".join(unknown),
                                  first=towns[0].code, last=towns[-1].code)

    def _knows(self, township: str) -> bool:
        try:
            self.world.township(township)
        except KeyError:
            return False
        return True

    def place_call(self, request: CallRequest) -> CallResult:
        now = self.clock.now()
        rng = seeded(self.seed, "call", request.number, now.isoformat())
        where = self._where(request.case_id)
        household = self.world.household(request.number, where.township)
        ring = rng.uniform(*self.behaviour.ring_s)
        unanswered = self._network(request, household, now, ring, to_local(now, where.timezone), rng)
        if unanswered is not None:
            return unanswered  # nobody spoke: nothing to store, no transaction
        person = self.world.person(request.number, where.township)
        case = _Case(request.case_id, where.survey_id, request.language)
        return self._interview(request, case, person, (now, now + timedelta(seconds=ring)), rng)

    def _where(self, case_id: int) -> _Where:
        """Where the case is, from a per-survey cache (most calls are never answered, and need no
        transaction at all; an answered one needs no more of its case than this and the request)."""
        if case_id not in self._cases:
            with session_scope(self.sessions) as session:
                case = session.get(Case, case_id)
                if case is None:
                    raise LookupError(f"simulated call: no case {case_id}")
                timezone, survey_id = case.stratum.survey.timezone, case.survey_id
                rows = session.execute(select(Case.id, Stratum.code).join(Stratum, Stratum.id == Case.stratum_id)
                                       .where(Case.survey_id == survey_id)).all()
                self._cases.update({cid: _Where(code, timezone, survey_id) for cid, code in rows})
        return self._cases[case_id]

    # -- before anyone speaks ---------------------------------------------------------------

    def _network(self, request: CallRequest, person: Person, now: datetime, ring: float, local: datetime,
                 rng: random.Random) -> CallResult | None:
        """The result of a call nobody (no eligible person) answers, or None when a person picks up."""
        call_id = f"SIM-{request.attempt_id}"
        at = _after(now)
        if person.line == NON_WORKING:
            return CallResult(CallStatus.NON_WORKING, now, at(3), provider_call_id=call_id,
                              hangup_cause="unallocated_number")
        if rng.random() < self.behaviour.busy:
            return CallResult(CallStatus.BUSY, now, at(2), provider_call_id=call_id, hangup_cause="user_busy")
        if person.line == FAX:
            return CallResult(CallStatus.FAX, now, at(ring + 6), answered_at=at(ring), provider_call_id=call_id,
                              amd_result="fax", hangup_cause="normal_clearing")
        if rng.random() < self.behaviour.pickup_chance(daypart(local), person):
            return None
        if person.voicemail and self.behaviour.voicemail_after_s < request.ring_timeout_s:
            pickup = self.behaviour.voicemail_after_s
            return CallResult(CallStatus.MACHINE, now, at(pickup + 8), answered_at=at(pickup),
                              provider_call_id=call_id, amd_result="machine_start", hangup_cause="normal_clearing")
        return CallResult(CallStatus.NO_ANSWER, now, at(request.ring_timeout_s), provider_call_id=call_id,
                          hangup_cause="no_answer")

    # -- the interview ----------------------------------------------------------------------

    def _interview(self, request: CallRequest, case: _Case, person: Person, times: tuple[datetime, datetime],
                   rng: random.Random) -> CallResult:
        """The call once a person picked up: ``times`` is when it started and when it was answered."""
        started_at, answered_at = times
        drawn, clocks = rng.getstate(), []

        def start() -> tuple[VirtualClock, Talk]:
            """A try from the moment of the answer (again, from the same draws, if the database
            failed under the last one)."""
            rng.setstate(drawn)
            local = VirtualClock(answered_at)
            clocks.append(local)

            def talk(run: InterviewSession, step: Step) -> Step:
                resident = self._resident(person, run.engine.q, rng, _recording_path(request.attempt_id))
                for _ in range(MAX_EVENTS):
                    if step.hangup or step.transfer:
                        return step
                    step = self._exchange(run, resident, local, step)
                raise RuntimeError(f"simulated call for case {case.id} did not end after {MAX_EVENTS} steps")

            return local, talk

        talked = self.calls.converse(request, case, start)
        local = clocks[-1]
        ended_at = local.now() + timedelta(seconds=1)
        return CallResult(CallStatus.ANSWERED, started_at, ended_at, answered_at=answered_at,
                          provider_call_id=f"SIM-{request.attempt_id}", hangup_cause="normal_clearing",
                          interview_status=talked.reported_status, callback_at=talked.callback_at)

    @staticmethod
    def _exchange(run: InterviewSession, resident: Reacts, local: VirtualClock, step: Step) -> Step:
        event, seconds = resident.react(step)
        local.advance(timedelta(seconds=max(0.0, seconds)))
        return run.handle(event)

    def _modelled_resident(self, person: Person, questionnaire: Questionnaire, rng: random.Random,
                           recording_path: Callable[[str], str]) -> Reacts:
        return Resident(person, self.behaviour, questionnaire, rng, recording_path)


def from_settings(settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> SimulatedChannel:
    """The channel as the dialer builds channels, ``(settings, sessions, clock)``: the default world."""
    return SimulatedChannel(sessions, clock, World())


def _after(start: datetime) -> Callable[[float], datetime]:
    return lambda seconds: start + timedelta(seconds=seconds)


def _recording_path(attempt_id: int) -> Callable[[str], str]:
    return lambda question_id: f"{RECORDING_SCHEME}attempt/{attempt_id}/{question_id}.wav"
