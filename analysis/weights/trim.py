"""Weight trimming within township: raking whose factors must stay within caps.

Caps are on the adjustment g = w/d (``lower`` <= g <= ``upper``, relative to the base weight) and/or
on w <= ``median`` x the township's median raked weight (the median of the untrimmed raked weights).

Trimming then re-raking, over and over, settles where every unit is either at a cap or carries the
raking factor of its margin levels: g = clip(prod of level factors, lower, upper). That limit is
computed directly here, by raking in which each margin step finds, per level, the factor r with
sum_c seed_c clip(f_c r, L_c, U_c) = target (bisection on log r; the sum is monotone in r). It is the
solution R's ``calibrate(calfun="raking", bounds=c(L, U))`` looks for (truncated raking); where the
caps do not bind it is plain raking. Unlike R's ``trimWeights``, nothing moves across townships and
the margins hold exactly afterwards. Caps too tight for a margin level fail at once; caps that
cannot hold together with all margins fail after the sweeps run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError
from analysis.grouping import BoolArray, FloatArray, IntArray, bincount
from analysis.weights.rake import MAX_SWEEPS, TOLERANCE, Margin, RakeDidNotConverge, margin_errors, rake

NO_CAP = 1e12  # bounds standing in for "no cap" (relative to the base weight)
BISECTIONS = 80
AT_CAP = 1e-9  # relative distance from a cap that counts as "held at the cap"


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
    low, high = _caps(rake(seed, margins, tol=tol), counts, base, township, rule)
    g = bounded_rake(seed, margins, low, high, tol=tol)
    used = counts > 0
    capped = used & ((g >= high * (1 - AT_CAP)) | (g <= low * (1 + AT_CAP)))
    return Trimmed(g, capped)


def bounded_rake(seed: FloatArray, margins: Sequence[Margin], low: FloatArray, high: FloatArray, *,
                 tol: float = TOLERANCE, max_sweeps: int = MAX_SWEEPS) -> FloatArray:
    """Factors g = clip(f, low, high) meeting every margin, f a product of per-level factors."""
    f = np.ones_like(seed)
    used = seed > 0
    worst = _worst(seed * np.where(used, np.clip(f, low, high), 1.0), margins)
    for sweep in range(1, max_sweeps + 1):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            for k, m in enumerate(margins):
                inside = (m.groups >= 0) & used
                r = _level_factors(seed[inside], f[inside], low[inside], high[inside], m.groups[inside],
                                   m.targets, k, sweep)
                f[inside] *= r[m.groups[inside]]
        if not np.all(np.isfinite(f[used]) & (f[used] > 0)):
            # Caps that cannot hold with every margin: the factors run off to 0 or infinity.
            raise RakeDidNotConverge(worst[0], int(worst[1].argmax()), float(worst[1].max()), sweep)
        g = np.where(used, np.clip(f, low, high), 1.0)
        worst = _worst(seed * g, margins)
        if worst[1].max(initial=0.0) < tol:
            return g
    k, errors = worst
    raise RakeDidNotConverge(k, int(errors.argmax()), float(errors.max()), max_sweeps)


def _worst(totals: FloatArray, margins: Sequence[Margin]) -> tuple[int, FloatArray]:
    return max(((k, margin_errors(totals, m)) for k, m in enumerate(margins)),
               key=lambda item: item[1].max(initial=0.0), default=(0, np.zeros(1)))


def _level_factors(seed: FloatArray, f: FloatArray, low: FloatArray, high: FloatArray, groups: IntArray,
                   targets: FloatArray, margin: int, sweep: int) -> FloatArray:
    """Per group, r with sum seed * clip(f r, low, high) = target, by bisection on log r."""
    size = targets.size
    least, most = bincount(groups, seed * low, size), bincount(groups, seed * high, size)
    present = bincount(groups, seed, size) > 0
    short = present & ((targets < least * (1 - 1e-12)) | (targets > most * (1 + 1e-12)))
    if short.any():
        j = int(np.flatnonzero(short)[0])
        raise RakeDidNotConverge(margin, j, float(abs(targets[j] - np.clip(targets[j], least[j], most[j]))
                                                   / targets[j]), sweep)
    lo = np.full(size, np.inf)
    hi = np.full(size, -np.inf)
    np.minimum.at(lo, groups, np.log(low / f))
    np.maximum.at(hi, groups, np.log(high / f))
    lo, hi = np.where(present, lo, 0.0), np.where(present, hi, 0.0)
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        total = bincount(groups, seed * np.clip(f * np.exp(mid[groups]), low, high), size)
        below = total < targets
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.asarray(np.exp((lo + hi) / 2), dtype=np.float64)


def _caps(g: FloatArray, counts: FloatArray, base: FloatArray, township: IntArray,
          rule: TrimRule) -> tuple[FloatArray, FloatArray]:
    low = np.full(g.size, rule.lower if rule.lower is not None else 1 / NO_CAP)
    high = np.full(g.size, rule.upper if rule.upper is not None else NO_CAP)
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
