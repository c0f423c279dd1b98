"""95% confidence intervals for domain estimates, vectorised over estimates.

Shares: ``logit`` (R ``svyciprop(method="xlogit")``: Wald on the logit scale with t quantiles on
the design df), ``wilson`` (Wilson with the effective n p(1-p)/V, capped at n) or ``kg``
(Korn-Graubard 1998: Clopper-Pearson with n* = min(n, n_eff (t_{n-1}/t_df)^2) trials and p n*
successes, n the domain's own valid answers).

Scores and composites of scores have a known range [lo, hi] (from the questionnaire's codes), and by
default (``score_method="logit"``) the same logit interval on the score rescaled to [0, 1]:
p = (e - lo)/(hi - lo), se_p = se/(hi - lo), expit(logit p +- t_df se_p/(p(1-p))), mapped back to
[lo, hi]. Like a share's, it stays inside the range and is asymmetric near its ends, where a bounded,
skewed score's sampling distribution is; the symmetric t interval (``score_method="t"``,
estimate +- t_df SE, as before) covered the township scores of bench/bench_coverage.py 92.8% of
the time. A score at an end of its range with se > 0 (only by rounding: every answer at that end
gives se = 0) has no logit; it keeps the t interval, labelled ``t``.

The cap at n (as NCHS's implementation of the 2017 Data Presentation Standards for Proportions,
Parker et al., Vital Health Stat 2(175)): after post-stratification the design effect can be below 1,
and an uncapped n_eff > n would give an interval narrower than Clopper-Pearson on the respondents
actually interviewed. R ``svyciprop(method="beta")`` does not cap, and for a calibrated design's
domain takes n as the whole sample's row count; where n_eff (t_{n-1}/t_df)^2 <= n and n is the
domain's, it gives the same interval as ``kg`` here.

Fallback: when the linearised variance is 0 (estimate 0 or 1, or answers fully explained by the
weighting cells) there is no effective n: the logit interval is undefined (R's ``logit`` returns the
point [1, 1], ``xlogit`` and ``beta`` NaN). The index is then rescaled to [0, 1] by its range and
given the Korn-Graubard interval with the Kish effective n of the valid answers, n_k = n/deff_kish
(capped as above; with the df factor of a township, 1, n* = n_k): for a share of 0 it is
[0, 1 - 0.025^(1/n*)], for 1 it is [0.025^(1/n*), 1], Clopper-Pearson's for 0 or n* successes out
of n*. A bounded variable with mean p has variance at most p(1-p) on that scale, so this is
conservative. Such rows say ``kg-range (se=0)`` as their method. The caller passes an SE at
rounding-noise level (below ``ZERO_SE`` times the index's range; e.g. 1e-31 when every answer is
the same) as 0, as :mod:`analysis.estimates` does: it would otherwise give a point interval
labelled ``logit`` or ``t``.

Exception: a domain all of whose townships were enumerated completely (n_h = N_h, so 1 - f = 0)
has no sampling error; its interval is the estimate itself, labelled ``census``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special  # the functions scipy.stats calls here, without its import time

from analysis.grouping import BoolArray, FloatArray

LEVEL = 0.95
METHODS = ("logit", "wilson", "kg")
SCORE_METHODS = ("logit", "t")
FALLBACK = "kg-range (se=0)"
CENSUS = "census"
ZERO_SE = 1e-12  # SEs below this times the index's range are rounding noise
Z = float(special.ndtri(0.5 + LEVEL / 2))


@dataclass(frozen=True)
class IntervalMethods:
    """The interval asked for: ``share`` one of METHODS, ``score`` one of SCORE_METHODS."""

    share: str = "logit"
    score: str = "logit"


@dataclass(frozen=True)
class Intervals:
    low: FloatArray
    high: FloatArray
    method: NDArray[np.str_]


def t_quantile(df: FloatArray) -> FloatArray:
    return np.asarray(special.stdtrit(df, 0.5 + LEVEL / 2), dtype=np.float64)


def logit_interval(p: FloatArray, se: FloatArray, df: FloatArray) -> tuple[FloatArray, FloatArray]:
    half = t_quantile(df) * se / (p * (1 - p))
    centre = special.logit(p)
    return special.expit(centre - half), special.expit(centre + half)


def wilson_interval(p: FloatArray, n_eff: FloatArray) -> tuple[FloatArray, FloatArray]:
    z2 = Z * Z
    centre = p + z2 / (2 * n_eff)
    half = Z * np.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff * n_eff))
    return (centre - half) / (1 + z2 / n_eff), (centre + half) / (1 + z2 / n_eff)


def korn_graubard(p: FloatArray, n_eff: FloatArray, n: FloatArray,
                  df: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Clopper-Pearson on n* = min(n, n_eff (t_{n-1}/t_df)^2) trials with x* = p n* successes."""
    n_star = np.minimum(n, n_eff * (t_quantile(n - 1) / t_quantile(df)) ** 2)
    x = p * n_star
    alpha = 1 - LEVEL
    with np.errstate(invalid="ignore"):
        low = np.where(p > 0, special.betaincinv(x, n_star - x + 1, alpha / 2), 0.0)
        high = np.where(p < 1, special.betaincinv(x + 1, n_star - x, 1 - alpha / 2), 1.0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def t_interval(estimate: FloatArray, se: FloatArray, df: FloatArray) -> tuple[FloatArray, FloatArray]:
    half = t_quantile(df) * se
    return estimate - half, estimate + half


def score_interval(estimate: FloatArray, se: FloatArray, df: FloatArray, low: float,
                   high: float) -> tuple[FloatArray, FloatArray]:
    """The logit interval of the score rescaled to [0, 1] by its range, mapped back to [low, high]."""
    width = high - low
    p_low, p_high = logit_interval((estimate - low) / width, se / width, df)
    return low + p_low * width, low + p_high * width


def intervals(*, share: bool, method: str, estimate: FloatArray, se: FloatArray, df: FloatArray,
              n: FloatArray, n_eff: FloatArray, n_kish: FloatArray, low: float, high: float,
              census: BoolArray | None = None, score_method: str = "logit") -> Intervals:
    """Intervals for estimates of one kind; rows with se = 0 get the fallback described above.

    ``method`` is the shares' interval, ``score_method`` the scores' (see above); ``n_eff`` is
    p(1-p)/V (shares), ``n_kish`` the Kish effective n of the valid answers, ``low`` and ``high`` the
    range the index can take, ``census`` marks domains enumerated completely.
    """
    if method not in METHODS:
        raise ValueError(f"CI method must be one of {METHODS}")
    if score_method not in SCORE_METHODS:
        raise ValueError(f"score CI method must be one of {SCORE_METHODS}")
    census = np.zeros(estimate.size, dtype=bool) if census is None else census
    flat = (se <= 0) & ~census
    ok = ~flat & ~census
    lo, hi = np.full(estimate.size, np.nan), np.full(estimate.size, np.nan)
    label = np.full(estimate.size, method if share else score_method, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        if not share:
            logit = ok & (estimate > low) & (estimate < high) & (score_method == "logit")
            lo[ok], hi[ok] = t_interval(estimate[ok], se[ok], df[ok])
            lo[logit], hi[logit] = score_interval(estimate[logit], se[logit], df[logit], low, high)
            label[ok & ~logit] = "t"
        elif method == "logit":
            lo[ok], hi[ok] = logit_interval(estimate[ok], se[ok], df[ok])
        elif method == "wilson":
            lo[ok], hi[ok] = wilson_interval(estimate[ok], np.minimum(n_eff[ok], n[ok]))
        else:
            lo[ok], hi[ok] = korn_graubard(estimate[ok], n_eff[ok], n[ok], df[ok])
    if flat.any():
        scaled = np.clip((estimate[flat] - low) / (high - low), 0.0, 1.0)
        f_lo, f_hi = korn_graubard(scaled, n_kish[flat], n[flat], df[flat])
        lo[flat], hi[flat] = low + f_lo * (high - low), low + f_hi * (high - low)
        label[flat] = FALLBACK
    lo[census], hi[census] = estimate[census], estimate[census]
    label[census] = CENSUS
    return Intervals(lo, hi, label.astype(str))
