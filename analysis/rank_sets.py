"""Confidence sets for ranks from simultaneous pairwise-difference intervals.

For units k = 1..H with independent estimates, unit j is *significantly above* k when the
simultaneous interval for theta_j - theta_k lies above 0:

    (est_j - est_k) > c_jk * sqrt(V_j + V_k),

and k's rank set is [1 + #{j significantly above k}, H - #{j significantly below k}] (Klein, Wright &
Wieczorek 2020, "A joint confidence region for an overall ranking of populations", JRSS-C 69:589-606;
Mogstad, Romano, Shaikh & Wilhelm 2024, "Inference for ranks with applications to mobility across
neighbourhoods and academic achievement across countries", REStud 91:476-518; R ``csranks``).

Simultaneity is Bonferroni's, as in Klein et al.: every pairwise interval of the family has level
1 - alpha/m, two-sided, so all of them cover at once with probability >= 1 - alpha, and then every
unit's true rank lies in its set. Two families:

* ``joint``: the m = H(H-1)/2 pairs. The set of all rank intervals covers the true ranks jointly with
  probability >= 95%.
* ``marginal``: the m = H - 1 pairs that involve k. Each unit's interval covers its own rank with
  probability >= 95% (not all of them at once).

Why Bonferroni rather than Mogstad et al.'s simulated max-|t| critical value: that needs the maximum
over all H^2 pairs in every simulated draw, O(H^2 x draws), too slow for a province (H = 3,350), and it
is barely smaller here. For 20 units with equal SEs the exact max-|t| value is the studentised range
q(0.95; 20, inf)/sqrt(2) = 3.54 against Bonferroni's z(1 - 0.05/380) = 3.65. No random numbers are used,
so the sets are the same on every run.

Critical value with t quantiles: c_k = t_{df_k}^{-1}(1 - alpha/(2m)) per unit and c_jk = max(c_j, c_k),
the quantile at min(df_j, df_k), which is at most the Satterthwaite df of V_j + V_k: conservative. A
unit without df uses the normal.

Scales: shares strictly inside (0, 1) with a positive SE are compared with each other on the logit
scale, as the intervals are drawn (delta method: Var(logit p) = V/(p(1-p))^2); scores, and any pair
with a share at 0 or 1, on the linear scale. A unit whose SE is 0 without being a census (a share at 0
or 1, or every answer alike) has no design variance to test with; it is compared with the SE its stated
interval implies, (ci_high - ci_low)/(2 z_.975), and with none at all (never significant) if it has no
interval. A census (SE 0 because every resident was interviewed) is exact: any difference from another
census is real.

Cost: O(H^2) comparisons in row chunks of ``CHUNK`` (a chunk x H boolean matrix at a time), no draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from analysis.grouping import BoolArray, FloatArray
from analysis.intervals import Z

ALPHA = 0.05
FAMILIES = ("joint", "marginal")
CHUNK = 256  # rows compared at a time: bounds the memory at CHUNK x H


@dataclass(frozen=True)
class Comparison:
    """What units are compared on, per unit.

    ``linear``/``linear_var``: the estimate and the variance used on the linear scale; ``logit`` and
    ``logit_var`` the same on the logit scale, used for pairs of units that are both ``on_logit``;
    ``df``: the t df (inf for the normal).
    """

    linear: FloatArray
    linear_var: FloatArray
    logit: FloatArray
    logit_var: FloatArray
    on_logit: BoolArray
    df: FloatArray

    @classmethod
    def of(cls, kind: str, estimate: FloatArray, se: FloatArray, df: FloatArray, *, census: BoolArray,
           ci_low: FloatArray, ci_high: FloatArray) -> Comparison:
        """Units of one index: ``kind`` "share" or "score"; NaN ``ci_low``/``ci_high`` when there is no interval."""
        variance = se**2
        stand_in = ((ci_high - ci_low) / (2 * Z)) ** 2
        no_variance = (variance <= 0) & ~census
        linear_var = np.where(no_variance, np.where(np.isnan(stand_in), np.inf, stand_in), variance)
        on_logit = (kind == "share") & (estimate > 0) & (estimate < 1) & (variance > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.where(on_logit, special.logit(estimate), np.nan)
            logit_var = np.where(on_logit, variance / (estimate * (1 - estimate)) ** 2, np.nan)
        return cls(estimate, linear_var, logit, logit_var, on_logit, df)


def rank_sets(units: Comparison, family: str = "joint",
              alpha: float = ALPHA) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Lower and upper ends of every unit's rank set (1 = highest); see the module docstring."""
    if family not in FAMILIES:
        raise ValueError(f"rank family must be one of {FAMILIES}")
    h = units.linear.size
    pairs = h * (h - 1) // 2 if family == "joint" else h - 1
    crit2 = np.square(special.stdtrit(units.df, 1 - alpha / (2 * max(pairs, 1))))
    above, below = np.zeros(h, dtype=np.int64), np.zeros(h, dtype=np.int64)
    inner = np.flatnonzero(units.on_logit)
    outer = np.flatnonzero(~units.on_logit)
    for part, value, var in ((inner, units.logit, units.logit_var), (outer, units.linear, units.linear_var)):
        a, b = _within(value[part], var[part], crit2[part])  # logit-scale units among themselves, linear ones too
        above[part] += a
        below[part] += b
    if inner.size and outer.size:  # a linear-scale unit against a logit-scale one: on the linear scale
        a, b, col_above, col_below = _across(units.linear[outer], units.linear_var[outer], crit2[outer],
                                             units.linear[inner], units.linear_var[inner], crit2[inner])
        above[outer] += a
        below[outer] += b
        above[inner] += col_above
        below[inner] += col_below
    return (1 + above).astype(np.int32), (h - below).astype(np.int32)


def _within(value: FloatArray, var: FloatArray, crit2: FloatArray) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per unit, the units of the same set significantly above it and below it.

    In ascending order of value only a later unit can be above an earlier one, so each chunk of
    rows is compared with the units from its first row on: half the pairs.
    """
    order = np.argsort(value, kind="stable")
    value, var, crit2 = value[order], var[order], crit2[order]
    above, below = np.zeros(value.size, dtype=np.int64), np.zeros(value.size, dtype=np.int64)
    for start in range(0, value.size, CHUNK):
        rows, cols = slice(start, start + CHUNK), slice(start, None)
        up = value[None, cols] - value[rows, None] > _margin(crit2[rows], var[rows], crit2[cols], var[cols])
        above[rows] = np.count_nonzero(up, axis=1)
        below[cols] += np.count_nonzero(up, axis=0)
    out_above, out_below = np.empty_like(above), np.empty_like(below)
    out_above[order], out_below[order] = above, below
    return out_above, out_below


def _across(row_value: FloatArray, row_var: FloatArray, row_crit2: FloatArray, col_value: FloatArray,
            col_var: FloatArray, col_crit2: FloatArray) -> tuple[NDArray[np.int64], ...]:
    """Per row: columns significantly above it, below it; per column: rows significantly above it, below it."""
    row_above = np.zeros(row_value.size, dtype=np.int64)
    row_below = np.zeros(row_value.size, dtype=np.int64)
    col_above = np.zeros(col_value.size, dtype=np.int64)
    col_below = np.zeros(col_value.size, dtype=np.int64)
    for start in range(0, row_value.size, CHUNK):
        rows = slice(start, start + CHUNK)
        diff = col_value[None, :] - row_value[rows, None]
        margin = _margin(row_crit2[rows], row_var[rows], col_crit2, col_var)
        up, down = diff > margin, diff < -margin  # the column is significantly above / below the row
        row_above[rows] = np.count_nonzero(up, axis=1)
        row_below[rows] = np.count_nonzero(down, axis=1)
        col_below += np.count_nonzero(up, axis=0)
        col_above += np.count_nonzero(down, axis=0)
    return row_above, row_below, col_above, col_below


def _margin(row_crit2: FloatArray, row_var: FloatArray, col_crit2: FloatArray, col_var: FloatArray) -> FloatArray:
    """c_jk sqrt(V_j + V_k) for every row j and column k (inf when a variance is)."""
    margin = np.maximum(row_crit2[:, None], col_crit2[None, :])
    margin *= row_var[:, None] + col_var[None, :]
    return np.sqrt(margin, out=margin)
