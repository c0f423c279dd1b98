"""How residents of the synthetic county answer the bundled questionnaire's opinion items.

Each rated item is an ordered-logit model: code 1 is the most favourable (安全 / 满意), and a
resident's positivity is the item's base, plus a township effect, an age and a sex effect, plus a
personal latent that is shared by all items (so one resident's answers hang together). The latent
takes three values with the weights of a 3-point Gauss-Hermite rule for a normal distribution,
which keeps the population's expected answers an exact finite sum: the "true" rates below are
computed from the model, never from a sample.

Young people and men are less satisfied with law enforcement, men and young people feel safer,
and older residents more often say they don't know about the courts and the procuratorate, so an
unweighted sample (fewer young men pick up the phone) is biased in a known direction.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from ivr.channels.simulated.county import Cell, Township, seeded

DONT_KNOW = 8
LATENT_SD = 0.9
# 3-point Gauss-Hermite rule for N(0, 1): nodes 0 and ±sqrt(3) with weights 2/3 and 1/6 each.
LATENT_POINTS = ((-math.sqrt(3) * LATENT_SD, 1 / 6), (0.0, 2 / 3), (math.sqrt(3) * LATENT_SD, 1 / 6))


@dataclass(frozen=True)
class Item:
    """One rated question: its cut points (one fewer than its codes), base positivity, age and sex
    effects and the chance of "don't know" by age group."""

    question: str
    cuts: tuple[float, ...]
    base: float
    age: Mapping[str, float]
    sex: Mapping[str, float]
    dont_know: Mapping[str, float]
    trend: float = 0.0  # how strongly the township's change since the last period moves answers

    @property
    def codes(self) -> tuple[int, ...]:
        return (*range(1, len(self.cuts) + 2), DONT_KNOW)


# Age and sex effects strong enough that the raw share of a sample short of young people and men
# misses the county's true rate by 1 to 2 points (safety) and 2 to 4 (satisfaction), more than a
# 2,000-interview round's sampling error, so weighting visibly matters; bases that keep the rates
# near published ones (about 90%). At a township of 100 interviews sampling error still dominates.
_SAT_AGE = {"18-29": -1.4, "30-44": -0.55, "45-59": 0.3, "60+": 1.0}
_SAT_SEX = {"M": -0.35, "F": 0.3}
_SCALE5 = (-0.9, 0.7, 2.4, 3.6)

ITEMS: tuple[Item, ...] = (
    Item("q_safety", _SCALE5, 0.6, {"18-29": 0.8, "30-44": 0.25, "45-59": -0.25, "60+": -0.7},
         {"M": 0.4, "F": -0.4}, {"18-29": 0.02, "30-44": 0.02, "45-59": 0.02, "60+": 0.04}),
    Item("q_police", _SCALE5, 0.40, _SAT_AGE, _SAT_SEX, {"18-29": 0.02, "30-44": 0.02, "45-59": 0.03, "60+": 0.06}),
    Item("q_court", _SCALE5, 0.55, _SAT_AGE, _SAT_SEX, {"18-29": 0.15, "30-44": 0.12, "45-59": 0.14, "60+": 0.22}),
    Item("q_procuratorate", _SCALE5, 0.60, _SAT_AGE, _SAT_SEX,
         {"18-29": 0.20, "30-44": 0.17, "45-59": 0.19, "60+": 0.28}),
    Item("q_justice", _SCALE5, 0.65, _SAT_AGE, _SAT_SEX, {"18-29": 0.12, "30-44": 0.10, "45-59": 0.12, "60+": 0.18}),
    Item("q_overall", _SCALE5, 0.50, _SAT_AGE, _SAT_SEX, {"18-29": 0.04, "30-44": 0.04, "45-59": 0.05, "60+": 0.08}),
    # 1 better, 2 the same, 3 worse: driven by how much the township really changed.
    Item("q_trend", (-0.2, 2.6), 0.0, {"18-29": -0.1, "30-44": 0.0, "45-59": 0.05, "60+": 0.05},
         {"M": 0.0, "F": 0.0}, {"18-29": 0.10, "30-44": 0.08, "45-59": 0.08, "60+": 0.12}, trend=2.5),
)
ITEMS_BY_QUESTION = {item.question: item for item in ITEMS}

# Public-order worries (q_worries codes) of residents who feel unsafe: urban / rural probability.
WORRIES = {1: (0.45, 0.40), 2: (0.55, 0.40), 3: (0.10, 0.12), 4: (0.12, 0.10), 5: (0.35, 0.30), 6: (0.15, 0.35)}


@dataclass(frozen=True)
class Climate:
    """One period's attitudes: every township's overall effect, item-specific deviations and its
    change since the period before."""

    level: Mapping[str, float]
    deviation: Mapping[tuple[str, str], float]  # (township code, question) -> effect
    change: Mapping[str, float]

    def positivity(self, item: Item, township: str, cell: Cell) -> float:
        age, sex = cell
        return (item.base + self.level[township] + self.deviation[(township, item.question)] + item.age[age]
                + item.sex[sex] + item.trend * self.change[township])


def make_climates(seed: int, townships: tuple[Township, ...]) -> tuple[Climate, Climate]:
    """The current period's climate and the previous period's (slightly different true rates)."""
    rng = seeded(seed, "climate")
    level = {t.code: rng.gauss(0.0, 0.35) - (0.10 if t.urban else 0.0) for t in townships}
    deviation = {(t.code, item.question): rng.gauss(0.0, 0.15) for t in townships for item in ITEMS}
    change = {t.code: rng.gauss(0.12, 0.20) for t in townships}
    earlier_change = {t.code: rng.gauss(0.05, 0.15) for t in townships}
    previous_level = {code: value - change[code] for code, value in level.items()}
    return Climate(level, deviation, change), Climate(previous_level, deviation, earlier_change)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def category_probabilities(item: Item, positivity: float) -> list[float]:
    """P(code 1..K) for a resident with this positivity (ordered logit, code 1 most favourable)."""
    below = [_logistic(cut + positivity) for cut in item.cuts] + [1.0]
    return [below[0]] + [below[k] - below[k - 1] for k in range(1, len(below))]


def cell_distribution(item: Item, climate: Climate, township: str, cell: Cell) -> dict[int, float]:
    """Expected share of each code (don't know included) among one cell's residents."""
    dont_know = item.dont_know[cell[0]]
    out = dict.fromkeys(item.codes, 0.0)
    eta = climate.positivity(item, township, cell)
    for latent, weight in LATENT_POINTS:
        for code, p in enumerate(category_probabilities(item, eta + latent), start=1):
            out[code] += weight * (1 - dont_know) * p
    out[DONT_KNOW] = dont_know
    return out


def draw_latent(rng: random.Random) -> float:
    value, = rng.choices([v for v, _ in LATENT_POINTS], weights=[w for _, w in LATENT_POINTS])
    return value


def draw_answer(item: Item, climate: Climate, township: str, cell: Cell, latent: float,
                rng: random.Random) -> int:
    """One resident's answer to ``item``: the same model the true rates come from."""
    if rng.random() < item.dont_know[cell[0]]:
        return DONT_KNOW
    probs = category_probabilities(item, climate.positivity(item, township, cell) + latent)
    code, = rng.choices(range(1, len(probs) + 1), weights=probs)
    return code


def draw_worries(urban: bool, rng: random.Random) -> tuple[int, ...]:
    """The worries of a resident who feels unsafe: at least one."""
    chosen = tuple(code for code, (u, r) in WORRIES.items() if rng.random() < (u if urban else r))
    if chosen:
        return chosen
    return (max(WORRIES, key=lambda code: WORRIES[code][0 if urban else 1]),)

