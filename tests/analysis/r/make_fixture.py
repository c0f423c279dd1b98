"""Writes the small synthetic survey the R reference numbers are computed on.

python tests/analysis/r/make_fixture.py tests/analysis/fixtures/r
Six townships, two waves, age x sex cells with unequal response (so weights vary), don't-know and
refused answers, one township with many of them. Every cell has >= 5 respondents and an adjustment
<= 3, so no collapsing happens and R's postStratify/rake see the same cells.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

AGES = ("18-29", "30-44", "45-59", "60+")
SEXES = ("M", "F")
TOWNS = {"T01": 21000, "T02": 9000, "T03": 4000, "T04": 15000, "T05": 2500, "T06": 30000}
SAMPLE = {"T01": 170, "T02": 140, "T03": 220, "T04": 150, "T05": 120, "T06": 180}
AGE_SHARE = np.array([0.18, 0.27, 0.28, 0.27])
PROPENSITY = np.array([[0.7, 0.85], [0.85, 1.0], [1.0, 1.1], [1.25, 1.4]])  # age x sex
# In T03 age and sex are strongly associated in the sample, so R rake()'s 10 back-fitting sweeps
# stop visibly short of the exact projection calibrate() uses.
CONFOUNDED = {"T03": np.array([[2.0, 0.55], [1.4, 0.7], [0.7, 1.4], [0.55, 2.0]])}


def population(rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for town, total in TOWNS.items():
        ages = AGE_SHARE * rng.uniform(0.8, 1.2, 4)
        sexes = np.array([0.49, 0.51]) * rng.uniform(0.95, 1.05, 2)
        cells = np.outer(ages / ages.sum(), sexes / sexes.sum()) * total
        out[town] = np.round(cells)
    return out


def answers(rng: np.random.Generator, town: int, age: int, wave: int, n: int) -> tuple[np.ndarray, ...]:
    base = np.array([22, 30, 24, 12, 6, 4, 2], dtype=float)
    base[:3] *= 1 + 0.15 * age - 0.1 * town + 0.2 * wave
    if town == 4:
        base[5:] *= 6  # many don't-know / refused
    safety = rng.choice([1, 2, 3, 4, 5, 8, 9], size=n, p=base / base.sum())
    police_p = np.array([30, 35, 20, 10, 5], dtype=float)
    police_p[:2] *= 1 + 0.2 * (town % 3)
    police = rng.choice([1, 2, 3, 4, 8], size=n, p=police_p / police_p.sum())
    return safety, police


def sample(rng: np.random.Generator, cells: dict[str, np.ndarray]) -> list[list[object]]:
    rows: list[list[object]] = []
    rid = 0
    for wave in (2025, 2026):
        for t, town in enumerate(TOWNS):
            probs = (cells[town] * CONFOUNDED.get(town, PROPENSITY)).ravel()
            picks = rng.choice(probs.size, size=SAMPLE[town], p=probs / probs.sum())
            for cell in picks:
                age, sex = divmod(int(cell), 2)
                safety, police = answers(rng, t, age, wave - 2025, 1)
                rid += 1
                rows.append([f"R{rid:05d}", wave, town, AGES[age], SEXES[sex], int(safety[0]), int(police[0])])
    return rows


def thin(rows: list[list[object]], cells: dict[str, np.ndarray]) -> bool:
    for wave in (2025, 2026):
        for town, total in TOWNS.items():
            mine = [r for r in rows if r[1] == wave and r[2] == town]
            d = total / len(mine)
            for a, age in enumerate(AGES):
                for s, sex in enumerate(SEXES):
                    n = sum(1 for r in mine if r[3] == age and r[4] == sex)
                    if n < 5 or cells[town][a, s] / (n * d) > 3:
                        return True
    return False


def main(out: Path) -> None:
    rng = np.random.default_rng(20240601)
    cells = population(rng)
    rows = sample(rng, cells)
    while thin(rows, cells):
        rows = sample(rng, cells)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "responses.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "wave", "township", "age_group", "sex", "q_safety", "q_police"])
        w.writerows(rows)
    with (out / "cells.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["township", "age_group", "sex", "N"])
        for town, table in cells.items():
            for a, age in enumerate(AGES):
                for s, sex in enumerate(SEXES):
                    w.writerow([town, age, sex, int(table[a, s])])
    with (out / "margins.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["township", "margin", "level", "N"])
        for town, table in cells.items():
            w.writerow([town, "total", "all", int(table.sum())])
            for a, age in enumerate(AGES):
                w.writerow([town, "age_group", age, int(table[a].sum())])
            for s, sex in enumerate(SEXES):
                w.writerow([town, "sex", sex, int(table[:, s].sum())])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
