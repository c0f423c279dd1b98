"""Simulation: over repeated samples from one finite population the 95% intervals cover the truth
about 95% of the time (post-stratified and raked, townships and county, shares and scores)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import AGES, SEXES, SPEC_DICT, margins_of

from analysis.pipeline import Options, run_analysis
from analysis.results import COUNTY
from analysis.spec import parse_spec

TOWNS = {"A": (6000, 250), "B": (3500, 180), "C": (1500, 120), "D": (8000, 200)}
SPEC = parse_spec({"indices": {k: SPEC_DICT["indices"][k] for k in ("safety", "safety_score")}})


def finite_population(seed: int = 11) -> pd.DataFrame:
    """Everyone's cell and answer; answers depend on township, age and sex, some are don't-know."""
    rng = np.random.default_rng(seed)
    frames = []
    for t, (size, _) in enumerate(TOWNS.values()):
        age = rng.choice(4, size=size, p=[0.2, 0.27, 0.28, 0.25])
        sex = rng.choice(2, size=size)
        tilt = 0.35 * age - 0.3 * sex + 0.4 * t - 0.5
        p = np.exp(tilt) / (1 + np.exp(tilt))
        favourable = rng.random(size) < p
        code = np.where(favourable, rng.choice([1, 2, 3], size=size), rng.choice([4, 5], size=size))
        code = np.where(rng.random(size) < 0.08, 8, code)
        frames.append(pd.DataFrame({"township": list(TOWNS)[t], "age_group": np.array(AGES)[age],
                                    "sex": np.array(SEXES)[sex], "q_safety": code}))
    return pd.concat(frames, ignore_index=True)


def truth(population: pd.DataFrame) -> dict[tuple[str, str], float]:
    valid = population[population.q_safety != 8]
    points = valid.q_safety.map({1: 100, 2: 80, 3: 60, 4: 40, 5: 0})
    out: dict[tuple[str, str], float] = {}
    for stratum, rows in [*valid.groupby("township").groups.items(), (COUNTY, valid.index)]:
        out[(str(stratum), "safety")] = float((valid.q_safety[rows] <= 3).mean())
        out[(str(stratum), "safety_score")] = float(points[rows].mean())
    return out


def coverage(method: str, reps: int, seed: int) -> tuple[float, int]:
    population = finite_population()
    cells = population.groupby(["township", "age_group", "sex"], as_index=False).size().rename(columns={"size": "N"})
    frame = cells if method == "poststratify" else margins_of(cells)
    target = truth(population)
    rng = np.random.default_rng(seed)
    starts = population.groupby("township").indices
    hits = total = 0
    for _ in range(reps):
        picks = np.concatenate([rng.choice(starts[t], size=n, replace=False) for t, (_, n) in TOWNS.items()])
        sample = population.iloc[picks].assign(id=np.arange(picks.size))
        run = run_analysis(sample, frame, SPEC, Options(by=("age_group", "sex"), method=method))
        for e in run.result.estimates:
            assert e.ci_low is not None and e.ci_high is not None
            hits += e.ci_low <= target[(e.stratum, e.index)] <= e.ci_high
            total += 1
    return hits / total, total


@pytest.mark.slow
@pytest.mark.parametrize(("method", "reps"), [("poststratify", 250), ("rake", 150)])
def test_intervals_cover_the_truth_about_95_percent_of_the_time(method: str, reps: int) -> None:
    rate, total = coverage(method, reps, seed=2024)
    assert 0.93 <= rate <= 0.97, f"{method}: {rate:.3f} over {total} intervals"
