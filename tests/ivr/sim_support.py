"""Fieldwork scaffolding for simulated-channel tests: a survey on the world's townships, cases,
attempts, and residents that follow a script instead of the behaviour model."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import timedelta

from engine_driver import parse
from sqlalchemy.orm import Session, sessionmaker

from dialer.cases import resumable_interviews
from dialer.protocol import CallRequest, CallResult
from ivr.channels.simulated import Behaviour, Person, SimulatedChannel, World
from ivr.channels.simulated.behaviour import DAYPARTS
from ivr.engine import Event, HangUp, Step
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case, Contact
from survey.phones import PhoneVault, mask
from survey.questionnaire import Questionnaire, load_bundled
from survey.surveys import create_survey

VAULT = PhoneVault("test-secret")
BUNDLED = load_bundled()
# Everyone picks up and every number works: for scripted residents.
CERTAIN = Behaviour(pickup={part: dict.fromkeys(("18-29", "30-44", "45-59", "60+"), 1.0) for part in DAYPARTS},
                    busy=0.0)
MENU_DEFAULTS = {"msg/language_menu": "1", "msg/resume_menu": "1", "msg/callback_menu": "1"}


class Fieldwork:
    """A survey of the world's townships (quota 5 each) with cases added on demand."""

    def __init__(self, sessions: sessionmaker[Session], clock: VirtualClock, world: World,
                 settings: Mapping[str, object] | None = None, questionnaire: Questionnaire = BUNDLED) -> None:
        self.sessions = sessions
        self.clock = clock
        self.world = world
        with session_scope(sessions) as s:
            survey = create_survey(s, "SIM", questionnaire, clock, period="2026-11", strata=world.strata(5),
                                   settings=settings)
            self.survey_id = survey.id
            self.strata = {st.code: st.id for st in survey.strata}
        self.numbers: dict[int, str] = {}
        self.townships: dict[int, str] = {}

    def add_case(self, number: str, township: str | None = None) -> int:
        township = township or self.world.townships[0].code
        with session_scope(self.sessions) as s:
            contact = Contact(number_enc=VAULT.encrypt(number), number_hash=VAULT.hash(number),
                              number_masked=mask(number))
            s.add(contact)
            s.flush()
            case = Case(survey_id=self.survey_id, stratum_id=self.strata[township], contact_id=contact.id,
                        created_at=self.clock.now(), updated_at=self.clock.now())
            s.add(case)
            s.flush()
            self.numbers[case.id] = number
            self.townships[case.id] = township
            return case.id

    def add_cases(self, per_township: int, draw: object = 1) -> list[int]:
        return [self.add_case(row.number, row.township) for row in self.world.sample(per_township, draw)]

    def person(self, case_id: int) -> Person:
        return self.world.person(self.numbers[case_id], self.townships[case_id])

    def request(self, case_id: int, language: str | None = None) -> CallRequest:
        """A new attempt on ``case_id``, as the dialer would open it."""
        with session_scope(self.sessions) as s:
            attempt = CallAttempt(case_id=case_id, survey_id=self.survey_id, channel="simulated",
                                  started_at=self.clock.now())
            s.add(attempt)
            s.flush()
            partial = resumable_interviews(s, [case_id]).get(case_id)
            return CallRequest(attempt.id, case_id, partial, self.numbers[case_id], "", language)

    def call(self, channel: SimulatedChannel, case_id: int, language: str | None = None) -> CallResult:
        """One attempt on ``case_id``; the shared clock then moves on a minute."""
        result = channel.place_call(self.request(case_id, language))
        self.clock.advance(timedelta(minutes=1))
        return result


class Scripted:
    """A resident who does exactly what a script says (tokens as in ``engine_driver``), taking two
    seconds per action; menus not named in the script get ``MENU_DEFAULTS``. The first call may
    stop at a question: the resident hangs up when it is asked."""

    def __init__(self, answers: Mapping[str, str], hang_up_at: str | None = None,
                 menus: Mapping[str, str] | None = None) -> None:
        self.answers = {qid: [e for token in script.split() for e in parse(token)] for qid, script in answers.items()}
        self.hang_up_at = hang_up_at
        self.menus = {**MENU_DEFAULTS, **(menus or {})}
        self.steps: list[Step] = []

    def react(self, step: Step) -> tuple[Event, float]:
        self.steps.append(step)
        if step.question_id is None:
            menu = step.prompts[-1].key
            return parse(self.menus[menu])[0], 2.0
        if step.question_id == self.hang_up_at:
            return HangUp(), 2.0
        queue = self.answers.get(step.question_id)
        if not queue:
            raise AssertionError(f"the script has nothing left for {step.question_id}")
        return queue.pop(0), 2.0

    @property
    def asked(self) -> list[str]:
        return [s.question_id for s in self.steps
                if s.question_id and any(p.key == f"{s.question_id}/text" for p in s.prompts)]


def scripted(resident: Scripted) -> Callable[[Person, Questionnaire, random.Random, Callable[[str], str]], Scripted]:
    """A resident factory for :class:`SimulatedChannel` that always answers with ``resident``."""
    return lambda _person, _q, _rng, _path: resident
