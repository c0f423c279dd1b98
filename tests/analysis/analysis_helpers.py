"""Shared data for the analysis tests (imported by name: tests/analysis is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).parent / "fixtures"

SPEC_DICT = {
    "indices": {
        "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
        "safety_score": {"question": "q_safety", "kind": "score",
                         "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0}, "exclude": [8, 9]},
        "police": {"question": "q_police", "kind": "share", "favourable": [1, 2], "exclude": [8]},
    }
}


AGES = ("18-29", "30-44", "45-59", "60+")
SEXES = ("M", "F")


def survey_frames(seed: int = 1, towns: dict[str, tuple[int, int]] | None = None, waves: tuple[str, ...] = ("1",),
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Respondents (id, wave, township, age_group, sex, q_safety, q_police) and the age x sex cells.

    ``towns`` maps a township to (population, respondents per wave). Every cell is sampled in
    proportion to its population, so no cell is thin unless a township's sample is tiny.
    """
    rng = np.random.default_rng(seed)
    towns = towns or {"A": (20_000, 200), "B": (8_000, 150), "C": (3_000, 120)}
    share = np.outer([0.2, 0.27, 0.28, 0.25], [0.49, 0.51])
    rows, cells = [], []
    for town, (size, n) in towns.items():
        counts = np.round(share * size)
        cells += [(town, AGES[a], SEXES[s], counts[a, s]) for a in range(4) for s in range(2)]
        for wave in waves:
            picks = rng.choice(8, size=n, p=(counts / counts.sum()).ravel())
            for cell in picks:
                a, s = divmod(int(cell), 2)
                safety = rng.choice([1, 2, 3, 4, 5, 8, 9], p=[0.2, 0.3, 0.2, 0.12, 0.08, 0.07, 0.03])
                police = rng.choice([1, 2, 3, 4, 8], p=[0.3, 0.3, 0.2, 0.1, 0.1])
                rows.append((f"{town}-{wave}-{len(rows)}", wave, town, AGES[a], SEXES[s], safety, police))
    responses = pd.DataFrame(rows, columns=["id", "wave", "township", "age_group", "sex", "q_safety", "q_police"])
    return responses, pd.DataFrame(cells, columns=["township", "age_group", "sex", "N"])


def margins_of(cells: pd.DataFrame) -> pd.DataFrame:
    """The margins shape (township, margin, level, N) of a cells frame, with total rows."""
    out = []
    for town, block in cells.groupby("township", sort=False):
        out.append((town, "total", "all", block["N"].sum()))
        for variable in ("age_group", "sex"):
            out += [(town, variable, level, n) for level, n in block.groupby(variable, sort=False)["N"].sum().items()]
    return pd.DataFrame(out, columns=["township", "margin", "level", "N"])
