"""Weight trimming within township, then re-raking, until caps and margins both hold.

Caps are on the adjustment g = w/d (``lower`` <= g <= ``upper``, relative to the base weight) and/or
on w <= ``median`` x the township's median raked weight (median taken once, before trimming).
A unit beyond a cap is fixed at the cap and the others are raked again to the margins net of the
fixed units; this repeats until no free unit breaks a cap. Each round fixes at least one more unit,
so it ends; if the remaining units cannot meet a margin the caps are too tight and raking fails.
Unlike R's ``trimWeights`` nothing moves across townships and the margins still hold afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError
from analysis.grouping import BoolArray, FloatArray, IntArray
from analysis.weights.rake import TOLERANCE, Margin, rake

SLACK = 1e-9  # a unit this close to its cap is not over it


@dataclass(frozen=True)
class TrimRule:
    upper: float | None = None
    lower: float | None = None
    median: float | None = None

    def __post_init__(self) -> None:
        if self.upper is not None and not self.upper >= 1:
            raise AnalysisError(f"the upper trimming cap on w/d must be >= 1, not {self.upper}")
        if self.lower is not None and not 0 < self.lower <= 1:
            raise AnalysisError(f"the lower trimming cap on w/d must be in (0, 1], not {self.lower}")
        if self.median is not None and not self.median >= 1:
            raise AnalysisError(f"the median cap must be >= 1 times the median weight, not {self.median}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.upper, self.lower, self.median))


@dataclass(frozen=True)
class Trimmed:
    factors: FloatArray  # g per unit
    capped: BoolArray  # per unit: held at a cap


def trim_and_rake(seed: FloatArray, counts: FloatArray, base: FloatArray, township: IntArray,
                  margins: Sequence[Margin], rule: TrimRule, *, tol: float = TOLERANCE) -> Trimmed:
    """Raking factors per unit that meet every margin and every cap.

    ``seed`` is the base-weight total of each unit, ``counts`` its respondents, ``base`` its
    respondents' base weight and ``township`` its township index.
    """
    g = rake(seed, margins, tol=tol)
    low, high = _caps(g, counts, base, township, rule)
    capped = np.zeros(seed.size, dtype=bool)
    fixed_g = np.zeros_like(g)
    while True:
        over = ~capped & (counts > 0) & ((g > high * (1 + SLACK)) | (g < low * (1 - SLACK)))
        if not over.any():
            return Trimmed(g, capped)
        fixed_g[over] = np.clip(g[over], low[over], high[over])
        capped |= over
        free_seed = np.where(capped, 0.0, seed)
        g = rake(free_seed, margins, fixed=seed * fixed_g * capped, tol=tol)
        g[capped] = fixed_g[capped]


def _caps(g: FloatArray, counts: FloatArray, base: FloatArray, township: IntArray,
          rule: TrimRule) -> tuple[FloatArray, FloatArray]:
    low = np.full(g.size, rule.lower if rule.lower is not None else 0.0)
    high = np.full(g.size, rule.upper if rule.upper is not None else np.inf)
    if rule.median is not None:
        weights = g * base
        for t in np.unique(township):
            units = np.flatnonzero((township == t) & (counts > 0))
            if units.size == 0:
                continue
            median = _weighted_median(weights[units], counts[units])
            high[units] = np.minimum(high[units], rule.median * median / base[units])
    return low, high


def _weighted_median(values: FloatArray, counts: FloatArray) -> float:
    """Median over respondents when each value is held by ``counts`` respondents."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(counts[order])
    half = cumulative[-1] / 2.0
    lower = values[order][np.searchsorted(cumulative, half, side="left")]
    upper = values[order][np.searchsorted(cumulative, half, side="right")] if cumulative[-1] % 2 == 0 \
        else lower
    return float((lower + upper) / 2.0)
