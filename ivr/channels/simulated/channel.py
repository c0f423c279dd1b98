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
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.interviews import InterviewSession
from calls.recordings import SIMULATED
from calls.service import CallService, Talk
from dialer.protocol import CallRequest, CallResult, ChannelNotReady
from ivr.channels.simulated.answers import OwnAnswers
from ivr.channels.simulated.behaviour import RATES, Behaviour, daypart
from ivr.channels.simulated.county import seeded
from ivr.channels.simulated.rehearsal import Rehearsal, load_rehearsal, parse_rehearsal
from ivr.channels.simulated.resident import Reacts, Resident, ResidentFactory
from ivr.channels.simulated.world import FAX, NON_WORKING, Person, World
from ivr.engine import Step
from survey.clock import Clock, VirtualClock, to_local
from survey.config import Settings
from survey.db import session_scope
from survey.models import Case, Stratum, Survey
from survey.questionnaire import Questionnaire
from survey.surveys import StratumSpec, survey_questionnaire
from survey.vocabulary import CallStatus

MAX_EVENTS = 500  # a call longer than this is a bug in a resident model, not a patient resident
RECORDING_SCHEME = SIMULATED  # recordings of simulated calls have no audio


WorldFor = Callable[[Survey], World]  # the world a survey's calls reach


class _Where(NamedTuple):
    township: str  # code
    timezone: str  # the survey's
    survey_id: int
    world: World


class _Case(NamedTuple):
    """An answered call's case, as the request and the cache know it (no query)."""

    id: int
    survey_id: int
    language: str | None


class SimulatedChannel:
    """Implements :class:`dialer.protocol.Channel` against a :class:`World`, the same for every
    survey, or one per survey (``world`` a function of the survey)."""

    name = "simulated"

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, world: World | WorldFor, seed: int = 0,
                 behaviour: Behaviour | None = None, *, resident: ResidentFactory | None = None) -> None:
        if not isinstance(world, World) and not callable(world):
            raise ValueError("SimulatedChannel(sessions, clock, world, ...) needs a World as its third argument; "
                             "to build it from settings use ivr.channels.simulated.from_settings")
        self.sessions = sessions
        self.clock = clock
        self._world_for: WorldFor = (lambda _survey: world) if isinstance(world, World) else world
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        self._scripted = resident
        self._cases: dict[int, _Where] = {}
        self.calls = CallService(sessions, clock)

    def lines_in_use(self) -> int:
        return 0  # every call is over when place_call returns

    def preflight(self, survey_id: int) -> None:
        """The survey's world has a township for each of the survey's (it answers every question:
        one it has no opinion on gets the first plain choice)."""
        with session_scope(self.sessions) as session:
            survey = session.get(Survey, survey_id)
            if survey is None:
                raise ChannelNotReady("no survey %(survey)s", survey=survey_id)
            world = self._world_for(survey)
            codes = [stratum.code for stratum in sorted(survey.strata, key=lambda s: s.code)]
        unknown = [code for code in codes if not _knows(world, code)]
        if unknown:
            towns = world.townships
            raise ChannelNotReady("the simulated county has no township %(codes)s (it has %(first)s..%(last)s): "
                                  "the simulated channel cannot call this survey", codes=", ".join(unknown),
                                  first=towns[0].code, last=towns[-1].code)

    def place_call(self, request: CallRequest) -> CallResult:
        now = self.clock.now()
        rng = seeded(self.seed, "call", request.number, now.isoformat())
        where = self._where(request.case_id)
        household = where.world.household(request.number, where.township)
        ring = rng.uniform(*self.behaviour.ring_s)
        unanswered = self._network(request, household, now, ring, to_local(now, where.timezone), rng)
        if unanswered is not None:
            return unanswered  # nobody spoke: nothing to store, no transaction
        person = where.world.person(request.number, where.township)
        case = _Case(request.case_id, where.survey_id, request.language)
        own = OwnAnswers(where.world.seed, where.world.period, where.world.rehearsal)
        return self._interview(request, case, person, own, (now, now + timedelta(seconds=ring)), rng)

    def _where(self, case_id: int) -> _Where:
        """Where the case is, from a per-survey cache (most calls are never answered, and need no
        transaction at all; an answered one needs no more of its case than this and the request)."""
        if case_id not in self._cases:
            with session_scope(self.sessions) as session:
                case = session.get(Case, case_id)
                if case is None:
                    raise LookupError(f"simulated call: no case {case_id}")
                survey = case.stratum.survey
                world = self._world_for(survey)
                rows = session.execute(select(Case.id, Stratum.code).join(Stratum, Stratum.id == Case.stratum_id)
                                       .where(Case.survey_id == survey.id)).all()
                self._cases.update({cid: _Where(code, survey.timezone, survey.id, world) for cid, code in rows})
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

    def _interview(self, request: CallRequest, case: _Case, person: Person, own: OwnAnswers,
                   times: tuple[datetime, datetime], rng: random.Random) -> CallResult:
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
                resident = self._resident(person, run.engine.q, rng, _recording_path(request.attempt_id), own)
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

    def _resident(self, person: Person, questionnaire: Questionnaire, rng: random.Random,
                  recording_path: Callable[[str], str], own: OwnAnswers) -> Reacts:
        if self._scripted is not None:
            return self._scripted(person, questionnaire, rng, recording_path)
        return Resident(person, self.behaviour, questionnaire, rng, recording_path, own)


def from_settings(settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> SimulatedChannel:
    """The channel as the dialer builds channels, ``(settings, sessions, clock)``: each survey's
    world built from its townships, with the rehearsal file of ``simulated_rehearsal`` if set."""
    path = settings.simulated_rehearsal
    rehearsal = load_rehearsal(Path(path)) if path else parse_rehearsal({})  # the default effects too
    return SimulatedChannel(sessions, clock, rehearsal_world(rehearsal), seed=rehearsal.seed,
                            behaviour=rehearsal_behaviour(rehearsal.behaviour))


def rehearsal_world(rehearsal: Rehearsal) -> WorldFor:
    """The world of a survey's own townships and questionnaire (ValueError: the rehearsal file
    does not fit the survey)."""
    def world_for(survey: Survey) -> World:
        questionnaire = survey_questionnaire(survey)
        problems = rehearsal.problems(questionnaire, [s.code for s in survey.strata])
        if problems:
            raise ValueError(f"the rehearsal does not fit survey {survey.code}: {'; '.join(problems)}")
        strata = [StratumSpec(s.code, s.name_zh, s.name_en, s.quota, s.population, s.auxiliary) for s in survey.strata]
        return World.for_survey(strata, rehearsal.for_questionnaire(questionnaire),
                                survey.analysis_spec.get("weighting"))
    return world_for


def rehearsal_behaviour(rates: Mapping[str, float]) -> Behaviour:
    """The default behaviour with the rehearsal's rates."""
    unknown = sorted(set(rates) - set(RATES))
    if unknown:
        raise ValueError(f"behaviour has no rate {', '.join(unknown)}; rates are {', '.join(RATES)}")
    overrides: dict[str, Any] = dict(rates)
    return Behaviour(**overrides)


def _after(start: datetime) -> Callable[[float], datetime]:
    return lambda seconds: start + timedelta(seconds=seconds)


def _recording_path(attempt_id: int) -> Callable[[str], str]:
    return lambda question_id: f"{RECORDING_SCHEME}attempt/{attempt_id}/{question_id}.wav"


def _knows(world: World, township: str) -> bool:
    try:
        world.township(township)
    except KeyError:
        return False
    return True
