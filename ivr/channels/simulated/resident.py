"""A simulated resident on one call: hears each step, then presses keys, stays silent, speaks a
recording or hangs up, and says how long that took (listening to the prompts, then thinking).

Substantive answers come from the rehearsal's distributions and the demographic questions
(:mod:`ivr.channels.simulated.answers`), then from the resident's hidden opinions in the world (for
the bundled questionnaire's question ids); any other question gets a plausible default answer, so
any valid questionnaire can be simulated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from ivr.channels.simulated.answers import OwnAnswers
from ivr.channels.simulated.attitudes import ITEMS
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
                 recording_path: Callable[[str], str], own: OwnAnswers | None = None) -> None:
        self.person = person
        self.own = own or OwnAnswers()
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
            seconds = max(q.min_seconds, min(self.person.suggestion_s, float(q.max_seconds)))
            return RecordingDone(self.recording_path(q.id), seconds)
        if q.type == qm.NUMBER:
            return Digits(f"{self._number(q)}#")
        if q.type == qm.MULTIPLE:
            codes = self._codes(q)
            keys = [c.key for c in q.choices if c.code in codes] or [q.choices[0].key]
            return Digits("".join(map(str, keys)) + "#")
        return Digits(str(self._key_for(q, self._code(q))))

    def _number(self, q: Question) -> int:
        return self.person.years if q.id == "d_years" and not self._configured(q) else self.own.number(q, self.person)

    def _codes(self, q: Question) -> tuple[int, ...]:
        return self.person.worries if q.id == "q_worries" and not self._configured(q) else self.own.codes(q, self.person)

    def _configured(self, q: Question) -> bool:
        return self.own.rehearsal.weights(q.id, self.person.township) is not None

    def _code(self, q: Question) -> int | None:
        p = self.person
        if q.role == "consent":
            return self._consent(q)
        own = self.own.code(q, p)
        if own is not None:
            return own
        known = {"s_age": 2 if p.minor else 1, "s_resident": 2 if p.newcomer else 1,
                 "q_suggest_yn": 1 if p.suggests else 2, "d_age": AGE_CODES[p.age_group],
                 "d_sex": SEX_CODES[p.sex]}
        found = known.get(q.id, p.answers.get(q.id))
        return found if found is not None and _bundled_codes(q) else self.own.default_code(q, p)

    def _consent(self, q: Question) -> int | None:
        """Opts out, declines or asks for a callback at the behaviour's rates (by the choices'
        ends), else agrees (None: the first plain choice)."""
        b = self.behaviour
        roll = self.rng.random()
        for end, p in ((qm.END_OPTED_OUT, b.opt_out), (qm.END_REFUSED, b.refuse), (qm.END_CALLBACK, b.callback)):
            if roll < p:
                return next((c.code for c in q.choices if c.end == end), None)
            roll -= p
        return None

    @staticmethod
    def _key_for(q: Question, code: int | None) -> int:
        choice = q.choice_for_code(code) if code is not None else None
        if choice is None:  # consent given: the first plain choice
            choice = next((c for c in q.choices if c.end is None), q.choices[0])
        return choice.key


_MODEL_CODES: dict[str, frozenset[int]] = {
    "s_age": frozenset({1, 2}), "s_resident": frozenset({1, 2}), "q_suggest_yn": frozenset({1, 2}),
    "d_age": frozenset(AGE_CODES.values()), "d_sex": frozenset(SEX_CODES.values()),
    **{item.question: frozenset(item.codes) for item in ITEMS},
}


def _bundled_codes(q: Question) -> bool:
    """Whether ``q``, a question of the bundled questionnaire's id, has every code the residents'
    model answers it with: a centre's own q_court on a 4-point scale, or its d_age of 3 groups, is
    answered as any other own question, not with the bundled scale's codes (a code the question
    lacks would have been keyed as its first choice: 很不满意 as 满意)."""
    return _MODEL_CODES.get(q.id, frozenset()) <= {c.code for c in q.choices}
