"""Raking (iterative proportional fitting) to margin totals, vectorised over units.

Units are usually weighting cells (all respondents of a cell share one weight, because base
weights are constant within a township); any set of units with seed totals works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.grouping import FloatArray, IntArray, bincount

TOLERANCE = 1e-10
MAX_SWEEPS = 2000


@dataclass(frozen=True)
class Margin:
    """Group of every unit (-1: not in this margin) and the target total of every group."""

    groups: IntArray
    targets: FloatArray


class RakeDidNotConverge(Exception):
    """The margins cannot all be met; ``margin`` and ``group`` locate the worst miss."""

    def __init__(self, margin: int, group: int, error: float, sweeps: int) -> None:
        self.margin, self.group, self.error, self.sweeps = margin, group, error, sweeps
        super().__init__(f"margin {margin} group {group} off by {error:.3g} (relative) after {sweeps} sweeps")


def rake(seed: FloatArray, margins: Sequence[Margin], *, fixed: FloatArray | None = None,
         tol: float = TOLERANCE, max_sweeps: int = MAX_SWEEPS) -> FloatArray:
    """Factors g with sum(seed * g) + sum(fixed) = target in every group of every margin.

    ``fixed`` holds totals of units that must not move (trimmed units): their seed should be 0.
    Stops when the largest relative margin error is below ``tol``.
    """
    fixed = np.zeros_like(seed) if fixed is None else fixed
    free = [m.targets - _totals(m, fixed) for m in margins]
    g = np.ones_like(seed)
    for sweep in range(1, max_sweeps + 1):
        for k, (m, target) in enumerate(zip(margins, free, strict=True)):
            achieved = _totals(m, seed * g)
            empty = (achieved <= 0) & (target > tol * m.targets)
            if empty.any():
                raise RakeDidNotConverge(k, int(np.flatnonzero(empty)[0]), 1.0, sweep)
            ratio = np.divide(target, achieved, out=np.ones_like(target), where=achieved > 0)
            moving = (m.groups >= 0) & (seed > 0)
            g[moving] *= ratio[m.groups[moving]]
        worst = _worst(seed * g + fixed, margins)
        if worst[2] < tol:
            return g
    raise RakeDidNotConverge(worst[0], worst[1], worst[2], max_sweeps)


def margin_errors(totals: FloatArray, margin: Margin) -> FloatArray:
    """Relative error of every group of ``margin`` given per-unit totals (absolute when target is 0)."""
    achieved = _totals(margin, totals)
    scale = np.where(margin.targets > 0, margin.targets, 1.0)
    return np.asarray(np.abs(achieved - margin.targets) / scale)


def _worst(totals: FloatArray, margins: Sequence[Margin]) -> tuple[int, int, float]:
    best = (0, 0, 0.0)
    for k, m in enumerate(margins):
        errors = np.nan_to_num(margin_errors(totals, m), nan=np.inf)
        if errors.size and errors.max() > best[2]:
            best = (k, int(errors.argmax()), float(errors.max()))
    return best


def _totals(margin: Margin, values: FloatArray) -> FloatArray:
    inside = margin.groups >= 0
    return bincount(margin.groups[inside], values[inside], margin.targets.size)
