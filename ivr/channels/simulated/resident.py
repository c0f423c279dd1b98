"""A simulated resident on one call: hears each step, then presses keys, stays silent, speaks a
recording or hangs up, and says how long that took (listening to the prompts, then thinking).

Substantive answers come from the resident's hidden opinions in the world (for the bundled
questionnaire's question ids); a question the world knows nothing about gets its first choice (or
its minimum), so any valid questionnaire can be simulated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from ivr.channels.simulated.behaviour import Behaviour
from ivr.channels.simulated.county import AGE_CODES, SEX_CODES
from ivr.channels.simulated.world import Person
from ivr.engine import Digits, Event, HangUp, RecordingDone, Step, Timeout
from survey.questionnaire import Question, Questionnaire
from survey.questionnaire import model as qm

_MENU_KEYS = ("msg/language_menu", "msg/resume_menu", "msg/callback_menu")


class Reacts(Protocol):
    """Anything that answers engine steps: the modelled resident, or a scripted one in tests."""

    def react(self, step: Step) -> tuple[Event, float]: ...


ResidentFactory = Callable[[Person, Questionnaire, random.Random, Callable[[str], str]], Reacts]


class Resident:
    def __init__(self, person: Person, behaviour: Behaviour, questionnaire: Questionnaire, rng: random.Random,
                 recording_path: Callable[[str], str]) -> None:
        self.person = person
        self.behaviour = behaviour
        self.q = questionnaire
        self.rng = rng
        self.recording_path = recording_path
        self._tried: set[str] = set()  # questions where the first-attempt slip (if any) already happened
        self._silent: set[str] = set()  # questions this resident will not answer at all

    def react(self, step: Step) -> tuple[Event, float]:
        listening = 0.0 if step.keep_playing else sum(self._speech_s(p.text, p.language) for p in step.prompts)
        if step.question_id is None:
            return self._menu(step, listening)
        q = self.q.question(step.question_id)
        if q.id in self._silent and step.collect is not None:
            return Timeout(), listening + step.collect.timeout_s
        if q.id not in self._tried:
            self._tried.add(q.id)
            slip = self._slip(q, step, listening)
            if slip is not None:
                return slip
        answer = self._answer(q)
        if isinstance(answer, RecordingDone):
            return answer, listening + answer.duration_s
        return answer, listening + self._think()

    # -- timing -----------------------------------------------------------------------------

    def _speech_s(self, text: str, language: str) -> float:
        return len(text) / self.behaviour.chars_per_second.get(language, 10.0)

    def _think(self) -> float:
        low, high = self.behaviour.think_s
        factor = self.behaviour.older_slower if self.person.age_group == "60+" else 1.0
        return self.rng.uniform(low, high) * factor

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- menus ------------------------------------------------------------------------------

    def _menu(self, step: Step, listening: float) -> tuple[Event, float]:
        menu = next((p.key for p in reversed(step.prompts) if p.key in _MENU_KEYS), None)
        if menu == "msg/language_menu":
            english = self.person.english and "en" in self.q.languages
            key = str(self.q.languages.index("en") + 1) if english else "1"
        elif menu == "msg/resume_menu":
            key = "2" if self._chance(self.behaviour.start_over) else "1"
        elif menu == "msg/callback_menu" and not self._chance(self.behaviour.callback_silence):
            key = self.rng.choice(sorted(map(str, qm.CALLBACK_SLOTS)))
        else:
            timeout = step.collect.timeout_s if step.collect else 5.0
            return Timeout(), listening + timeout
        return Digits(key), listening + self._think()

    # -- questions --------------------------------------------------------------------------

    def _slip(self, q: Question, step: Step, listening: float) -> tuple[Event, float] | None:
        """Something other than a straight answer the first time a question is heard, or None."""
        b = self.behaviour
        if q.role == "consent" and self._chance(b.intro_hangup):
            return HangUp(), listening * self.rng.uniform(0.1, 0.9)
        if q.role != "consent" and self._chance(b.break_off):
            return HangUp(), listening * self.rng.uniform(0.1, 1.0)
        if q.type != qm.NUMBER and self._chance(b.operator):  # on a number question 0 may be the answer
            return Digits(self.q.settings.operator_key), listening + self._think()
        if step.collect is not None and q.role is None and self._chance(b.silent):
            self._silent.add(q.id)
            return Timeout(), listening + step.collect.timeout_s
        if step.collect is not None and self._chance(b.slow):
            return Timeout(), listening + step.collect.timeout_s
        if step.collect is not None and self._chance(b.invalid_key):
            return Digits(self._wrong_key(q)), listening + self._think()
        if self._chance(b.repeat):
            return Digits(self.q.settings.repeat_key), listening + self._think()
        return None

    def _wrong_key(self, q: Question) -> str:
        if q.type == qm.NUMBER:
            return "9" * (len(str(int(q.max or 0))) + 1)  # out of range
        used = {str(c.key) for c in q.choices} | {self.q.settings.operator_key}
        unused = [k for k in "123456789" if k not in used]
        return self.rng.choice(unused) if unused else "#"

    def _answer(self, q: Question) -> Event:
        if q.type == qm.OPEN:
            return RecordingDone(self.recording_path(q.id), min(self.person.suggestion_s, float(q.max_seconds)))
        if q.type == qm.NUMBER:
            years = self.person.years if q.id == "d_years" else int(q.min or 0)
            return Digits(f"{years}#")
        if q.type == qm.MULTIPLE:
            codes = self.person.worries if q.id == "q_worries" else ()
            keys = [c.key for c in q.choices if c.code in codes] or [q.choices[0].key]
            return Digits("".join(map(str, keys)) + "#")
        return Digits(str(self._key_for(q, self._code(q))))

    def _code(self, q: Question) -> int | None:
        p = self.person
        if q.role == "consent":
            return self._consent()
        known = {"s_age": 2 if p.minor else 1, "s_resident": 2 if p.newcomer else 1,
                 "q_suggest_yn": 1 if p.suggests else 2, "d_age": AGE_CODES[p.age_group],
                 "d_sex": SEX_CODES[p.sex]}
        return known.get(q.id, p.answers.get(q.id))

    def _consent(self) -> int:
        b = self.behaviour
        roll = self.rng.random()
        for code, p in ((9, b.opt_out), (3, b.refuse), (2, b.callback)):
            if roll < p:
                return code
            roll -= p
        return 1

    @staticmethod
    def _key_for(q: Question, code: int | None) -> int:
        choice = q.choice_for_code(code) if code is not None else None
        if choice is None:  # a question the world has no opinion on: the first plain choice
            choice = next((c for c in q.choices if c.end is None), q.choices[0])
        return choice.key
