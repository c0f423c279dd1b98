"""Deterministic collapsing of empty or thin weighting cells, never across townships.

A cell (or margin level) fails when it has no respondents ("empty") or fewer than ``min_n``
("thin", default 5: with n_g = 1 the cell's residual is identically 0 and the variance is
understated). A large adjustment N_g / (n_g d_h) in a cell with enough respondents is the
nonresponse correction post-stratification exists for, so it is no reason to merge by default:
merging such a cell removes the correction and biases the estimate. ``max_adjustment`` keeps the
older rule (merge when the adjustment exceeds it) available as an option.

"Adjacent" follows the declared order of each variable's levels (:func:`analysis.population.
level_order`: labels compared with their numbers as numbers, so 18-29 < 30-44 < 45-59 < 60+),
never the row order of the population file. Within one township:

1. Joint cells: merge adjacent levels of the first weighting variable (e.g. age groups) within
   each combination of the others (e.g. within sex). The first failing run is merged with its
   neighbour holding fewer respondents (the later one on a tie).
2. If a whole combination still fails (e.g. too few men in the township), the township falls back
   to raking on its margins, each margin collapsed the same way; a margin that cannot be split
   at all is merged to one level. For age x sex this is "merge the sexes within age groups".

With collapsing switched off, an empty cell with population is an error instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError
from analysis.grouping import BoolArray, FloatArray, IntArray

Runs = list[list[int]]


@dataclass(frozen=True)
class CollapseRule:
    min_n: int = 5
    max_adjustment: float | None = None  # None: never merge a cell for its adjustment alone
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.min_n < 1 or (self.max_adjustment is not None and not self.max_adjustment >= 1):
            raise AnalysisError("the smallest cell must be >= 1 respondent and the largest adjustment >= 1")

    def reason(self, n: float, N: float, d: float) -> str | None:
        """Why a cell with n respondents, population N and base weight d fails, or None if it passes:
        "empty", "thin" (fewer than ``min_n``) or "adjustment" (N/(n d) above ``max_adjustment``)."""
        if n <= 0:
            return "empty"
        if not self.enabled:
            return None
        if n < self.min_n:
            return "thin"
        if self.max_adjustment is not None and self.max_adjustment * n * d < N:
            return "adjustment"
        return None

    def passes(self, n: float, N: float, d: float) -> bool:
        return self.reason(n, N, d) is None

    def passing(self, n: FloatArray, N: FloatArray, d: FloatArray) -> BoolArray:
        """:meth:`passes` element by element over arrays (broadcast)."""
        ok: BoolArray = n > 0
        if not self.enabled:
            return ok
        ok = ok & (n >= self.min_n)
        if self.max_adjustment is not None:
            ok = ok & ~(self.max_adjustment * n * d < N)
        return ok


def merge_adjacent(n: Sequence[float], N: Sequence[float], d: float, rule: CollapseRule) -> Runs | None:
    """Runs of adjacent positions that all pass, or None if that is impossible.

    Positions with neither respondents nor population are left out. Without collapsing, runs are
    the single positions and any failing one makes the answer None.
    """
    runs = [[i] for i in range(len(n)) if n[i] > 0 or N[i] > 0]

    def fails(run: list[int]) -> bool:
        return not rule.passes(sum(n[i] for i in run), sum(N[i] for i in run), d)

    while True:
        failing = [k for k, run in enumerate(runs) if fails(run)]
        if not failing:
            return runs
        if not rule.enabled or len(runs) == 1:
            return None
        k = failing[0]
        partner = _partner(runs, k, n)
        runs[partner] = sorted(runs[partner] + runs[k])
        del runs[k]


def _partner(runs: Runs, k: int, n: Sequence[float]) -> int:
    if k == 0:
        return 1
    if k == len(runs) - 1:
        return k - 1
    before, after = (sum(n[i] for i in runs[j]) for j in (k - 1, k + 1))
    return k - 1 if before < after else k + 1


@dataclass(frozen=True)
class CellPartition:
    """Post-stratification groups of one township's cells, shaped (first variable, other combos)."""

    groups: IntArray  # group per cell, -1 for cells with neither sample nor population
    merged: list[tuple[int, list[int]]]  # (combination of the others, first-variable levels merged)


def collapse_cells(n: FloatArray, N: FloatArray, d: float, rule: CollapseRule) -> CellPartition | None:
    """Stage 1 for one township; None means "fall back to raking on the margins"."""
    groups = np.full(n.shape, -1, dtype=np.intp)
    merged: list[tuple[int, list[int]]] = []
    next_id = 0
    for combo in range(n.shape[1]):
        runs = merge_adjacent(n[:, combo].tolist(), N[:, combo].tolist(), d, rule)
        if runs is None:
            return None
        for run in runs:
            groups[run, combo] = next_id
            next_id += 1
            if len(run) > 1:
                merged.append((combo, run))
    return CellPartition(groups, merged)


def collapse_margin(n: FloatArray, N: FloatArray, d: float, rule: CollapseRule) -> Runs | None:
    """Level runs for one margin of one township, merged to one run when it cannot be split.

    None only when collapsing is off and a level with population has no respondents.
    """
    runs = merge_adjacent(n.tolist(), N.tolist(), d, rule)
    if runs is None and rule.enabled:
        return [[i for i in range(len(n)) if n[i] > 0 or N[i] > 0]]
    return runs
