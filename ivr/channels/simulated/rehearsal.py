"""A rehearsal file: what the simulated residents of a centre's own survey are like (docs/rehearsal.md).

Everything is optional. ``answers`` gives, for all townships (``all``) or one township (its code),
the distribution of codes (of values, for a number question) of named questions; for a multiple
choice question each value is the chance that the code is chosen. ``population`` gives adults by
age group × sex, for all townships or one. ``demographics`` says which questions carry the age
group and sex, in the format of an analysis spec's ``weighting`` (the survey's own is the default).
``effects`` says how answers lean by age group and sex: for a question (or ``all`` of them), odds
multipliers of some codes (by default the question's lowest code, in most questionnaires its first
and most favourable answer) for each age group and sex; without the section a file gets
:data:`DEFAULT_EFFECTS`. ``behaviour`` overrides the residents' rates
(:class:`ivr.channels.simulated.behaviour.Behaviour`), ``seed`` the world's seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ivr.channels.simulated.county import AGE_GROUPS, SEXES, Cell
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm

ALL = "all"
LABELS = {"age_group": AGE_GROUPS, "sex": SEXES}  # the world's people's attributes, by weighting variable
_SECTIONS = ("seed", "answers", "population", "demographics", "effects", "behaviour")


@dataclass(frozen=True)
class Effect:
    """How one question's answers lean by age group and sex: the odds of ``codes`` (none given:
    the lowest code of the distribution) against the other answers are multiplied by the
    resident's age group's factor and sex's factor (1 for a label not given)."""

    codes: tuple[int, ...] = ()
    age_group: Mapping[str, float] = field(default_factory=dict)
    sex: Mapping[str, float] = field(default_factory=dict)

    def apply(self, weights: Mapping[int, float], age_group: str, sex: str) -> dict[int, float]:
        """``weights`` for a resident of ``age_group`` and ``sex`` (not normalised)."""
        factor = self.age_group.get(age_group, 1.0) * self.sex.get(sex, 1.0)
        favoured = set(self.codes) if self.codes else {min(weights)}
        return {code: w * factor if code in favoured else w for code, w in weights.items()}


# Without an ``effects`` section: older residents and women give a question's first (usually most
# favourable) answer somewhat more often, as county satisfaction surveys commonly find, so that a
# rehearsal shows what weighting by age and sex changes.
DEFAULT_EFFECTS: Mapping[str, Effect] = {
    ALL: Effect(age_group={"18-29": 0.7, "30-44": 0.85, "45-59": 1.15, "60+": 1.4}, sex={"M": 0.9, "F": 1.1})}


@dataclass(frozen=True)
class Demographic:
    """The question that carries one of a resident's attributes, and its code for each label."""

    question: str
    codes: Mapping[str, int]  # world label ("18-29", "M") -> the question's code


@dataclass(frozen=True)
class Rehearsal:
    seed: int = 0
    answers: Mapping[str, Mapping[str, Mapping[int, float]]] = field(default_factory=dict)  # where -> q -> weights
    population: Mapping[str, Mapping[Cell, int]] = field(default_factory=dict)  # where -> adults by cell
    demographics: Mapping[str, Demographic] = field(default_factory=dict)  # "age_group" / "sex" -> question
    behaviour: Mapping[str, float] = field(default_factory=dict)
    effects: Mapping[str, Effect] = field(default_factory=dict)  # question or ALL -> effect

    def leaning(self, question: str, weights: Mapping[int, float], age_group: str, sex: str) -> dict[int, float]:
        """``weights`` of ``question`` as a resident of ``age_group`` and ``sex`` leans them."""
        effect = self.effects.get(question, self.effects.get(ALL))
        return effect.apply(weights, age_group, sex) if effect is not None else dict(weights)

    def weights(self, question: str, township: str) -> Mapping[int, float] | None:
        """The township's configured weights for ``question`` (else all townships'), or None."""
        for where in (township, ALL):
            found = self.answers.get(where, {}).get(question)
            if found is not None:
                return found
        return None

    def for_questionnaire(self, questionnaire: Questionnaire) -> Rehearsal:
        """This rehearsal with the ``all`` effect given to each single-choice and yes/no question
        of ``questionnaire`` that has none of its own (not consent, screening or weighting
        questions): answers and the world's truth then lean the same way, and numbers and
        multiple choices not at all."""
        common = self.effects.get(ALL)
        effects = {q: e for q, e in self.effects.items() if q != ALL}
        if common is not None:
            effects |= {q.id: common for q in questionnaire.questions
                        if q.type in (qm.SINGLE, qm.YESNO) and q.role is None and q.id not in effects}
        return replace(self, effects=effects)

    def population_of(self, township: str) -> Mapping[Cell, int] | None:
        return self.population.get(township, self.population.get(ALL))

    def problems(self, questionnaire: Questionnaire, townships: Iterable[str]) -> list[str]:
        """What in this file does not fit the survey: unknown townships, questions and codes."""
        places = set(townships) | {ALL}
        out = [f"no township {code!r} in the survey" for code in [*self.answers, *self.population]
               if code not in places]
        for where, questions in self.answers.items():
            out += [f"answers of {where}: {p}" for qid, weights in questions.items()
                    for p in _question_problems(questionnaire, qid, weights)]
        for qid, effect in self.effects.items():
            if qid != ALL:
                out += [f"effects: {p}" for p in
                        _question_problems(questionnaire, qid, dict.fromkeys(effect.codes, 1))]
        for variable, demographic in self.demographics.items():
            out += [f"demographics {variable}: {p}" for p in
                    _question_problems(questionnaire, demographic.question, dict.fromkeys(demographic.codes.values(), 1))]
        return out


def _question_problems(questionnaire: Questionnaire, qid: str, weights: Mapping[int, float]) -> list[str]:
    try:
        q = questionnaire.question(qid)
    except KeyError:
        return [f"no question {qid!r} in questionnaire {questionnaire.id}"]
    if q.type == qm.NUMBER:
        low, high = q.min if q.min is not None else 0, q.max if q.max is not None else float("inf")
        return [f"{qid}: {value} is outside {low}..{high}" for value in weights if not low <= value <= high]
    if q.type not in qm.CHOICE_TYPES:
        return [f"{qid} is a {q.type} question: only choice and number questions take a distribution"]
    wrong = sorted(set(weights) - q.codes)
    chances = [p for p in weights.values() if p > 1] if q.type == qm.MULTIPLE else []
    return ([f"{qid} has no code(s) {', '.join(map(str, wrong))}"] if wrong else []) + \
        ([f"{qid} is multiple choice: each value is a chance between 0 and 1"] if chances else [])


def load_rehearsal(path: Path) -> Rehearsal:
    """The rehearsal file at ``path`` (YAML); ValueError says what is wrong with it."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise ValueError(f"rehearsal file {path}: cannot read it: {exc}") from None
    try:
        return parse_rehearsal(data or {})
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"rehearsal file {path}: {exc}") from None


def parse_rehearsal(data: Mapping[str, Any]) -> Rehearsal:
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(unknown)}; expected {', '.join(_SECTIONS)}")
    answers = {str(where): {str(q): _weights(q, w) for q, w in questions.items()}
               for where, questions in data.get("answers", {}).items()}
    population = {str(where): _cells(str(where), cells) for where, cells in data.get("population", {}).items()}
    effects = ({str(q): _effect(str(q), spec) for q, spec in data["effects"].items()} if "effects" in data
               else DEFAULT_EFFECTS)
    return Rehearsal(int(data.get("seed", 0)), answers, population, demographics(data.get("demographics", {})),
                     {str(k): float(v) for k, v in data.get("behaviour", {}).items()}, effects)


def _effect(question: str, spec: Mapping[str, Any]) -> Effect:
    """``{codes: [...], age_group: {label: factor}, sex: {label: factor}}``, every part optional."""
    unknown = sorted(set(spec) - {"codes", "age_group", "sex"})
    if unknown:
        raise ValueError(f"effects of {question}: unknown key(s) {', '.join(unknown)}; expected codes, age_group, sex")
    factors = {}
    for variable, labels in LABELS.items():
        given = {str(label): float(f) for label, f in spec.get(variable, {}).items()}
        wrong = sorted(set(given) - set(labels))
        if wrong:
            raise ValueError(f"effects of {question}: {variable} has no {', '.join(wrong)}; it has "
                             f"{', '.join(labels)}")
        if any(f <= 0 for f in given.values()):
            raise ValueError(f"effects of {question}: {variable} factors must be more than 0")
        factors[variable] = given
    return Effect(tuple(int(c) for c in spec.get("codes", ())), factors["age_group"], factors["sex"])


def demographics(weighting: Mapping[str, Any]) -> dict[str, Demographic]:
    """The age group and sex questions of a ``weighting`` map (``{variable: {question, codes:
    {code: label}}}``); other variables, and labels the simulated world does not know, are left out."""
    out = {}
    for variable, spec in weighting.items():
        labels = LABELS.get(str(variable))
        if labels is None:
            continue
        codes = {str(label): int(code) for code, label in spec["codes"].items() if str(label) in labels}
        if codes:
            out[str(variable)] = Demographic(str(spec["question"]), codes)
    return out


def _weights(question: object, weights: Mapping[Any, Any]) -> dict[int, float]:
    out = {int(code): float(w) for code, w in weights.items()}
    if any(w < 0 for w in out.values()) or not any(w > 0 for w in out.values()):
        raise ValueError(f"answers for {question}: weights must be zero or more, and not all zero")
    return out


def _cells(where: str, cells: Mapping[str, Mapping[str, Any]]) -> dict[Cell, int]:
    """``{age group: {sex: adults}}`` as adults by cell (a cell left out has none)."""
    wrong = [f"{age}/{sex}" for age, by_sex in cells.items() for sex in by_sex
             if age not in AGE_GROUPS or sex not in SEXES]
    if wrong:
        raise ValueError(f"population of {where}: unknown cell(s) {', '.join(wrong)}; age groups are "
                         f"{', '.join(AGE_GROUPS)} and sexes {', '.join(SEXES)}")
    out = {(age, sex): int(cells.get(age, {}).get(sex, 0)) for age in AGE_GROUPS for sex in SEXES}
    if any(n < 0 for n in out.values()) or not any(out.values()):
        raise ValueError(f"population of {where}: adults must be zero or more, and not all zero")
    return out
