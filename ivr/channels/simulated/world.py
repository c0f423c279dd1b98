"""The synthetic world behind the simulated channel: a county, its residents and its phone frame.

Who is behind a number is derived, deterministically, from the world's seed, the number and the
township the frame puts it in (the frame's ``township`` column, i.e. the case's stratum): whether
the number works, whether it is a fax, whether voicemail picks up, and the resident's age group,
sex, years of residence, eligibility and opinions. The frame itself holds no hidden attribute, as
a real frame would not; the same number in the same township is always the same resident, and
the same number is always non-working (or not) whatever the township.

The world also knows the truth the survey estimates: every township's expected answers over its
adult residents (:meth:`World.distribution`, :meth:`World.true_indices`), computed from the model.
:meth:`World.previous` is the same county one period earlier, with slightly different opinions.
"""

from __future__ import annotations

import copy
import csv
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ivr.channels.simulated.attitudes import (
    DONT_KNOW,
    ITEMS,
    ITEMS_BY_QUESTION,
    cell_distribution,
    draw_answer,
    draw_latent,
    draw_worries,
    make_climates,
)
from ivr.channels.simulated.county import (
    AGE_GROUPS,
    KINDS,
    MAX_YEARS,
    NAMES,
    SEXES,
    Cell,
    Township,
    drawn_population,
    make_townships,
    seeded,
)
from ivr.channels.simulated.rehearsal import Rehearsal, demographics
from survey.surveys import StratumSpec

COUNTY = "ALL"
HOUSEHOLD, NON_WORKING, FAX = "household", "non_working", "fax"
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182",
                   "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "177", "180",
                   "181", "189", "199")
AREA_CODE = "731"  # landlines: +86 731 and eight digits
FRAME_COLUMNS = ("number", "township", "frame")
STRATA_COLUMNS = ("code", "name_zh", "name_en", "quota", "age_group", "sex", "N")
_UNSAFE = (4, 5)


@dataclass(frozen=True)
class FrameMix:
    """What lies behind the numbers of a phone frame (shares of numbers or of residents)."""

    non_working: float = 0.12
    fax: float = 0.01
    voicemail: float = 0.30  # households whose unanswered calls go to voicemail
    landline: float = 0.25  # share of landline numbers in a drawn sample (mobile : landline = 3 : 1)
    minor: float = 0.02  # the phone is answered by someone under 18 (screened out)
    newcomer: float = 0.03  # the resident moved in less than six months ago (screened out)
    english: float = 0.03  # residents who choose English at the language menu

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"FrameMix.{name} must be a probability between 0 and 1, not {value}")
        if self.non_working + self.fax > 1.0:
            raise ValueError("FrameMix: non_working + fax exceed 1")


@dataclass(frozen=True)
class Person:
    """The resident behind one number in one period (hidden from the survey)."""

    number: str
    township: str
    line: str  # household / non_working / fax
    voicemail: bool
    age_group: str
    sex: str
    years: int
    minor: bool
    newcomer: bool
    english: bool
    reachability: float  # personal multiplier of the chance to pick up
    answers: Mapping[str, int] = field(default_factory=dict)  # rated items -> code (8 = don't know)
    worries: tuple[int, ...] = ()
    suggests: bool = False
    suggestion_s: float = 0.0

    @property
    def eligible(self) -> bool:
        return self.line == HOUSEHOLD and not self.minor and not self.newcomer

    @property
    def cell(self) -> Cell:
        return self.age_group, self.sex


@dataclass(frozen=True)
class SampleRow:
    number: str  # E.164
    township: str  # township code
    frame: str  # mobile / landline


class World:
    """A synthetic county of ``townships`` townships (at most 21, or the given ones), all drawn from
    ``seed``; a ``rehearsal`` configures answers to named questions."""

    def __init__(self, seed: int = 0, townships: int | Sequence[Township] = len(NAMES), mix: FrameMix | None = None,
                 rehearsal: Rehearsal | None = None) -> None:
        self.seed = seed
        self.townships = make_townships(seed, townships) if isinstance(townships, int) else tuple(townships)
        self.mix = mix or FrameMix()
        self.rehearsal = rehearsal or Rehearsal()
        self.period = "current"
        self.climate, self._previous_climate = make_climates(seed, self.townships)
        self._by_code = {t.code: t for t in self.townships}
        self._people: dict[tuple[str, str], Person] = {}
        self._households: dict[tuple[str, str], Person] = {}  # people without their opinions

    @classmethod
    def for_survey(cls, strata: Sequence[StratumSpec], rehearsal: Rehearsal | None = None,
                   weighting: Mapping[str, Any] | None = None, mix: FrameMix | None = None) -> World:
        """The world of a survey's own townships (codes and names): their adults from the rehearsal,
        else from the survey's population cells, else drawn as a typical town's. The demographic
        questions are the rehearsal's, else those of the survey's ``weighting`` map."""
        rehearsal = rehearsal or Rehearsal()
        rehearsal = replace(rehearsal, demographics={**demographics(weighting or {}), **rehearsal.demographics})
        towns = [_own_township(rehearsal, spec) for spec in strata]
        return cls(rehearsal.seed, towns, mix, rehearsal)

    def previous(self) -> World:
        """The same county (townships, people, frame) one period earlier, with other true rates."""
        if self.period != "current":
            raise ValueError("only the current period has a previous one")
        earlier = copy.copy(self)
        earlier.period = "previous"
        earlier.climate = self._previous_climate
        earlier._people, earlier._households = {}, {}
        return earlier

    def township(self, code: str) -> Township:
        try:
            return self._by_code[code]
        except KeyError:
            raise KeyError(f"the synthetic county has no township {code!r} (it has "
                           f"{self.townships[0].code}..{self.townships[-1].code})") from None

    # -- residents --------------------------------------------------------------------------

    def person(self, number: str, township: str) -> Person:
        """The resident behind ``number`` in ``township`` (a township code), always the same one."""
        key = (number, township)
        if key not in self._people:
            self._people[key] = self._with_opinions(self.household(number, township), self.township(township))
        return self._people[key]

    def household(self, number: str, township: str) -> Person:
        """:meth:`person` without the opinions (``answers`` empty): enough to say whether the line
        works and who picks up when. Most numbers called never reach an interview, and drawing
        opinions is most of the work of making a person."""
        key = (number, township)
        if key not in self._households:
            self._households[key] = self._make_person(number, self.township(township))
        return self._households[key]

    def _make_person(self, number: str, town: Township) -> Person:
        mix = self.mix
        line_rng = seeded(self.seed, "line", number)
        roll = line_rng.random()
        line = NON_WORKING if roll < mix.non_working else FAX if roll < mix.non_working + mix.fax else HOUSEHOLD
        voicemail = line_rng.random() < mix.voicemail
        rng = seeded(self.seed, "person", town.code, number)
        cells = town.cells()
        (age, sex), = rng.choices([c for c, _ in cells], weights=[n for _, n in cells])
        return Person(number=number, township=town.code, line=line, voicemail=voicemail, age_group=age, sex=sex,
                      years=rng.randint(0, MAX_YEARS[age]), minor=rng.random() < mix.minor,
                      newcomer=rng.random() < mix.newcomer, english=rng.random() < mix.english,
                      reachability=math.exp(rng.gauss(0.0, 0.4)))

    def _with_opinions(self, person: Person, town: Township) -> Person:
        rng = seeded(self.seed, self.period, "opinions", town.code, person.number)
        latent = draw_latent(rng)
        answers = {item.question: draw_answer(item, self.climate, town.code, person.cell, latent, rng)
                    for item in ITEMS}
        worries = draw_worries(town.urban, rng) if answers["q_safety"] in _UNSAFE else ()
        unhappy = any(code in _UNSAFE for code in answers.values())
        suggests = rng.random() < (0.30 if unhappy else 0.10)
        return replace(person, answers=answers, worries=worries, suggests=suggests,
                       suggestion_s=round(rng.uniform(6.0, 55.0), 1))

    # -- the phone frame --------------------------------------------------------------------

    def sample(self, per_township: int | Mapping[str, int], draw: object = 1) -> list[SampleRow]:
        """A phone sample: ``per_township`` numbers in each township (or a count per code).
        ``draw`` names the draw: the same draw always gives the same numbers, and different draws
        of one world never share a number."""
        counts = per_township if isinstance(per_township, Mapping) else {t.code: per_township for t in self.townships}
        rng = seeded(self.seed, "sample", draw)
        seen: set[str] = set()
        rows = []
        for code, n in counts.items():
            self.township(code)
            for _ in range(n):
                row = self._number(rng, code, seen)
                seen.add(row.number)
                rows.append(row)
        return rows

    def _number(self, rng: random.Random, township: str, seen: set[str]) -> SampleRow:
        while True:
            if rng.random() < self.mix.landline:
                row = SampleRow(f"+86{AREA_CODE}{rng.randint(2, 8)}{rng.randrange(10**7):07d}", township, "landline")
            else:
                row = SampleRow(f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}", township, "mobile")
            if row.number not in seen:
                return row

    def strata(self, quota: int) -> list[StratumSpec]:
        """The townships as survey strata, each with ``quota`` and its population cells."""
        return [StratumSpec(t.code, t.name_zh, t.name_en, quota,
                            [{"age_group": a, "sex": s, "N": n} for (a, s), n in t.cells()],
                            {"kind": t.kind, "urban": t.urban}) for t in self.townships]

    # -- the truth --------------------------------------------------------------------------

    def distribution(self, question: str, township: str | None = None) -> dict[int, float]:
        """Expected share of each code of a rated question, or of a question the rehearsal gives
        a distribution, among the adult residents of ``township`` (a code), or of the whole county
        when None. Shares sum to 1."""
        towns = self.townships if township is None else (self.township(township),)
        total: dict[int, float] = {}
        adults = 0
        for town in towns:
            for cell, n in town.cells():
                for code, p in self._expected(question, town.code, cell).items():
                    total[code] = total.get(code, 0.0) + n * p
                adults += n
        return {code: value / adults for code, value in total.items()}

    def _expected(self, question: str, township: str, cell: Cell) -> Mapping[int, float]:
        configured = self.rehearsal.weights(question, township)
        if configured is not None:
            leaning = self.rehearsal.leaning(question, configured, *cell)
            return {code: w / sum(leaning.values()) for code, w in leaning.items()}
        try:
            item = ITEMS_BY_QUESTION[question]
        except KeyError:
            raise KeyError(f"no true distribution for {question!r}; rated questions: "
                           f"{', '.join(ITEMS_BY_QUESTION)}") from None
        return cell_distribution(item, self.climate, township, cell)

    def share(self, question: str, favourable: Iterable[int], exclude: Iterable[int] = (DONT_KNOW, 9),
              township: str | None = None) -> float:
        """The true share of ``favourable`` codes among answers not in ``exclude``."""
        dist = self.distribution(question, township)
        left_out = set(exclude)
        base = sum(p for code, p in dist.items() if code not in left_out)
        return sum(dist.get(code, 0.0) for code in set(favourable) - left_out) / base

    def score(self, question: str, scores: Mapping[int, float], exclude: Iterable[int] = (DONT_KNOW, 9),
              township: str | None = None) -> float:
        """The true mean score (e.g. 100/80/60/40/0) over the scored, not excluded, answers."""
        dist = self.distribution(question, township)
        scored = {code: points for code, points in scores.items() if code not in set(exclude)}
        base = sum(dist.get(code, 0.0) for code in scored)
        return sum(dist.get(code, 0.0) * points for code, points in scored.items()) / base

    def true_indices(self, indices: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
        """True values of indices given as in an index spec (``indices:`` of SPEC.yaml or the
        bundled indices.yaml), per township code and for the county (``"ALL"``)."""
        out: dict[str, dict[str, float]] = {}
        for township in [t.code for t in self.townships] + [COUNTY]:
            where = None if township == COUNTY else township
            values: dict[str, float] = {}
            for name, spec in indices.items():
                values[name] = self._index(name, spec, where, values, indices)
            out[township] = values
        return out

    def _index(self, name: str, spec: Mapping[str, Any], township: str | None, done: Mapping[str, float],
               indices: Mapping[str, Mapping[str, Any]]) -> float:
        kind = spec.get("kind")
        exclude = [int(c) for c in spec.get("exclude", ())]
        if kind == "share":
            return self.share(spec["question"], [int(c) for c in spec["favourable"]], exclude, township)
        if kind == "score":
            return self.score(spec["question"], {int(c): float(p) for c, p in spec["scores"].items()}, exclude,
                              township)
        if kind == "composite":
            parts = {str(p): float(w) for p, w in spec["components"].items()}
            values = {p: done[p] if p in done else self._index(p, indices[p], township, done, indices) for p in parts}
            return sum(values[p] * w for p, w in parts.items()) / sum(parts.values())
        raise ValueError(f"index {name}: kind must be share, score or composite, not {kind!r}")

    # -- files ------------------------------------------------------------------------------

    def write_frame_csv(self, rows: Iterable[SampleRow], path: Path) -> Path:
        """The sample as a frame CSV (``number,township,frame``) for ``minyi sample import``."""
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(FRAME_COLUMNS)
            writer.writerows((r.number, r.township, r.frame) for r in rows)
        return path

    def write_strata_csv(self, path: Path, quota: int) -> Path:
        """Townships and their population cells (``code,name_zh,name_en,quota,age_group,sex,N``),
        readable by :func:`survey.surveys.read_strata_csv` and ``minyi survey create --strata``."""
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(STRATA_COLUMNS)
            for t in self.townships:
                for (age, sex), n in t.cells():
                    writer.writerow((t.code, t.name_zh, t.name_en, quota, age, sex, n))
        return path



def _own_township(rehearsal: Rehearsal, spec: StratumSpec) -> Township:
    kind = str(spec.auxiliary.get("kind", "town"))
    kind = kind if kind in KINDS else "town"
    population = rehearsal.population_of(spec.code) or _census_cells(spec.population)
    if population is None:
        population = drawn_population(seeded(rehearsal.seed, "township", spec.code), kind)
    return Township(spec.code, spec.name_zh, spec.name_en, kind, population)


def _census_cells(cells: Sequence[Mapping[str, Any]]) -> dict[Cell, int] | None:
    """A survey's population cells, when they are the world's age groups × sexes (else None)."""
    known = [(a, s) for a in AGE_GROUPS for s in SEXES]
    found = {(str(c.get("age_group")), str(c.get("sex"))): int(c.get("N", 0)) for c in cells}
    if not found or not set(found) <= set(known) or not any(found.values()):
        return None
    return {cell: found.get(cell, 0) for cell in known}
