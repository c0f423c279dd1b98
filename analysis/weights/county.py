"""Margins for ``--method county``: each township's total, and the weighting cells pooled over the county.

With 15-40 interviews a township has two to five respondents per age x sex cell. Post-stratifying
each township's cells then either merges thin cells (which undoes the nonresponse correction and
biases the estimate) or keeps 1-3-respondent cells (whose variance the linearisation understates),
and raking each township's own margins often cannot be solved at all. Calibrating instead to
every township's population N_h (the strata) and to the county's age x sex counts (summed over the
townships) corrects nonresponse that depends on age and sex with 50-100 respondents per cell,
keeps the townships' totals exact, and still lets each township's estimate use its own answers.
What it does not match is a township's own age x sex mix: a township whose response pattern
differs from the county's keeps that difference (docs/methods.md gives the measured bias).

Thin county cells (fewer than the collapse rule's minimum) merge with an adjacent level of the
first variable as :mod:`analysis.weights.collapse` describes; a population given as margins gives
the county's margin of each variable instead of the joint cells.

The calibration groups are then every township (one each) and a few pooled groups spanning every
township (G = 8 for age x sex, however many townships): the linearised variance eliminates the
township totals, a diagonal block, and solves a G x G system (:mod:`analysis.pooled_variance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.errors import WeightingError
from analysis.grouping import FloatArray, IntArray, bincount
from analysis.population import Population
from analysis.weights.collapse import CollapseRule, collapse_cells, collapse_margin
from analysis.weights.grid import CellGrid
from analysis.weights.rake import Margin


@dataclass(frozen=True)
class CountyMerge:
    """Adjacent levels merged in a county cell or margin: variable, level indices, respondents, population."""

    variable: int  # index into grid.by
    levels: list[int]
    n: FloatArray
    N: FloatArray
    combo: int | None  # column of the other variables (joint cells); None for a margin


@dataclass(frozen=True)
class CountyMargins:
    margins: list[Margin]  # township totals, then the county cells (or one margin per variable)
    variables: list[str]  # the name of each margin
    names: list[list[tuple[int, str]]]  # per margin, per group: (township, levels); len(townships) = county
    merges: list[CountyMerge]


def county_margins(grid: CellGrid, cell_N: FloatArray | None, population: Population, counts: FloatArray,
                   N_h: FloatArray, rule: CollapseRule) -> CountyMargins:
    """``cell_N`` holds every grid cell's population (None when the population gives margins only)."""
    town = grid.township_of()
    townships = Margin(town.copy(), N_h.astype(np.float64))
    names = [[(h, "total") for h in range(len(grid.townships))]]
    within = np.arange(grid.size) % grid.per_township
    if cell_N is not None and grid.by:
        pooled = _pooled_cells(grid, within, counts, cell_N, rule)
        if pooled is not None:
            margin, labels, merges = pooled
            return CountyMargins([townships, margin], ["township", "cells"], [*names, labels], merges)
    margins, variables, merges = [townships], ["township"], []
    for k, variable in enumerate(grid.by):
        level = grid.level_of(k)
        n_l = bincount(level, counts, len(grid.levels[k]))
        N_l = _level_totals(population, grid, k, cell_N, level)
        runs = collapse_margin(n_l, N_l, 1.0, rule)
        if runs is None:
            empty = int(np.flatnonzero((n_l <= 0) & (N_l > 0))[0])
            raise WeightingError(f"county: nobody at {variable}={grid.levels[k][empty]} (population "
                                 f"{N_l[empty]:g}) and collapsing is off", margin=variable)
        group_of = np.full(n_l.size, -1, dtype=np.intp)
        for j, run in enumerate(runs):
            group_of[run] = j
            if len(run) > 1:
                merges.append(CountyMerge(k, run, n_l[run], N_l[run], None))
        margins.append(Margin(group_of[level], np.array([N_l[run].sum() for run in runs])))
        variables.append(variable)
        names.append([(len(grid.townships), "+".join(grid.levels[k][i] for i in run)) for run in runs])
    return CountyMargins(margins, variables, names, merges)


def _pooled_cells(grid: CellGrid, within: IntArray, counts: FloatArray, cell_N: FloatArray,
                  rule: CollapseRule) -> tuple[Margin, list[tuple[int, str]], list[CountyMerge]] | None:
    k = grid.per_township
    n_c, N_c = bincount(within, counts, k), bincount(within, cell_N, k)
    shape = (len(grid.levels[0]), -1)
    part = collapse_cells(n_c.reshape(shape), N_c.reshape(shape), 1.0, rule)
    if part is None:
        return None
    groups = part.groups.reshape(-1)
    size = int(groups.max()) + 1
    targets = bincount(groups[groups >= 0], N_c[groups >= 0], size)
    county = len(grid.townships)
    labels = [(county, "") for _ in range(size)]
    for cell in np.flatnonzero(groups >= 0):
        labels[groups[cell]] = (county, (labels[groups[cell]][1] + " + " if labels[groups[cell]][1] else "")
                                + grid.describe(int(cell)))
    merges = [CountyMerge(0, run, n_c.reshape(shape)[run, combo], N_c.reshape(shape)[run, combo], combo)
              for combo, run in part.merged]
    return Margin(groups[within], targets), labels, merges


def _level_totals(population: Population, grid: CellGrid, k: int, cell_N: FloatArray | None,
                  level: IntArray) -> FloatArray:
    """County population at each level of variable ``k``: from the cells, or the townships' margins."""
    if cell_N is not None:
        return bincount(level, cell_N, len(grid.levels[k]))
    margins = population.margin_targets().margins[grid.by[k]]
    present = set(grid.townships)
    return np.array([sum(m.get(lv, 0.0) for t, m in margins.items() if t in present) for lv in grid.levels[k]])
