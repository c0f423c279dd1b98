"""How a resident answers what the attitude model does not cover: the questions a rehearsal gives
a distribution, the demographic questions, and every other question of a centre's own
questionnaire, with plausible defaults (docs/rehearsal.md).

Each answer is drawn from (seed, period, township, number, question), never from the call's
generator: the same resident gives the same answer on every call, and the draws of the
bundled questionnaire's residents stay exactly what they were.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.channels.simulated.county import seeded
from ivr.channels.simulated.rehearsal import Rehearsal
from ivr.channels.simulated.world import Person
from survey.questionnaire import Question
from survey.questionnaire import model as qm

MISSING_SHARE = 0.05  # of a choice question's answers, on its "don't know" / "refused" choices
CHOSEN = 0.3  # the chance of each choice of a multiple choice question
DEFAULT_MAX = 99  # a number question with neither max nor max_digits


@dataclass(frozen=True)
class OwnAnswers:
    seed: int = 0
    period: str = "current"
    rehearsal: Rehearsal = field(default_factory=Rehearsal)

    def code(self, q: Question, person: Person) -> int | None:
        """A single choice or yes/no answer configured by the rehearsal or by the demographics,
        or None when neither says anything about ``q``."""
        weights = self.rehearsal.weights(q.id, person.township)
        if weights is not None:
            return _draw(self._leaning(q, weights, person), self._rng(q, person))
        attributes = {"age_group": person.age_group, "sex": person.sex}
        return next((d.codes.get(attributes[variable]) for variable, d in self.rehearsal.demographics.items()
                     if d.question == q.id), None)

    def default_code(self, q: Question, person: Person) -> int:
        """Screening: passed by the eligible; otherwise the plain choices evenly, and now and then
        a "don't know" (a choice that ends the interview is never picked)."""
        if q.role == "screening":
            ends = qm.END_SCREENED_OUT if person.minor or person.newcomer else None
            return next((c.code for c in q.choices if c.end == ends), q.choices[0].code)
        plain = [c.code for c in q.choices if c.end is None and not c.missing]
        missing = [c.code for c in q.choices if c.end is None and c.missing]
        weights = {**dict.fromkeys(plain, (1 - MISSING_SHARE) / max(len(plain), 1)),
                   **dict.fromkeys(missing, MISSING_SHARE / max(len(missing), 1))}
        return _draw(self._leaning(q, weights, person), self._rng(q, person)) if weights else q.choices[0].code

    def codes(self, q: Question, person: Person) -> tuple[int, ...]:
        """A multiple choice answer: each code with its configured chance (default ``CHOSEN``), at
        least one and at most ``max_choices``."""
        rng = self._rng(q, person)
        chances = self.rehearsal.weights(q.id, person.township) or {
            c.code: CHOSEN for c in q.choices if c.end is None and not c.missing}
        chosen = [code for code, p in chances.items() if rng.random() < p]
        if not chosen:
            chosen = [_draw(chances, rng) if any(chances.values()) else q.choices[0].code]
        return tuple(chosen[:q.max_choices or len(chosen)])

    def number(self, q: Question, person: Person) -> int:
        """A whole number within the question's range: the configured values' distribution, else
        every value of the range equally."""
        rng = self._rng(q, person)
        weights = self.rehearsal.weights(q.id, person.township)
        if weights is not None:
            return _draw(weights, rng)
        low = int(q.min) if q.min is not None else 0
        high = int(q.max) if q.max is not None else 10 ** q.max_digits - 1 if q.max_digits else DEFAULT_MAX
        return rng.randint(low, max(low, high))

    def _leaning(self, q: Question, weights: Mapping[int, float], person: Person) -> dict[int, float]:
        """A single choice or yes/no question's weights as this resident leans them (the rehearsal's effects)."""
        if q.type not in (qm.SINGLE, qm.YESNO):
            return dict(weights)
        return self.rehearsal.leaning(q.id, weights, person.age_group, person.sex)

    def _rng(self, q: Question, person: Person) -> random.Random:
        return seeded(self.seed, self.period, "answer", person.township, person.number, q.id)


def _draw(weights: Mapping[int, float], rng: random.Random) -> int:
    code, = rng.choices(list(weights), weights=list(weights.values()))
    return code
