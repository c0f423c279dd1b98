"""Change of each index between consecutive periods, per township and county.

The periods are independent samples, each weighted to the same census, so
SE(change) = sqrt(V1 + V2) and t = change / SE, with Satterthwaite's df

    df = (V1 + V2)^2 / (V1^2 / df1 + V2^2 / df2)

(Satterthwaite 1946, Biometrics Bulletin 2:110-114; df1, df2 the estimates' design df), two-sided
p-value and 95% CI change +- t_{df,.975} SE; the normal when an estimate has no df. p-values are adjusted for
multiplicity over every (stratum, index) change of one pair of periods, by Holm (family-wise error)
or Benjamini-Hochberg (false discovery rate). Panel respondents would need a covariance term; the
flat-file input has none.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # t quantiles and tails as scipy.stats.t computes them, without its import time

from analysis.grouping import FloatArray
from analysis.results import Change, Estimate

ADJUSTMENTS = ("holm", "bh")


def holm(p: FloatArray) -> FloatArray:
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def benjamini_hochberg(p: FloatArray) -> FloatArray:
    order = np.argsort(p, kind="stable")
    m = p.size
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def adjust(p: FloatArray, method: str) -> FloatArray:
    if method not in ADJUSTMENTS:
        raise ValueError(f"adjustment must be one of {ADJUSTMENTS}")
    return holm(p) if method == "holm" else benjamini_hochberg(p)


def changes(estimates: list[Estimate], periods: list[str], method: str = "holm",
            alpha: float = 0.05) -> list[Change]:
    by_key = {(e.period, e.stratum, e.index): e for e in estimates}
    out: list[Change] = []
    for before, after in zip(periods, periods[1:], strict=False):
        pairs = [(by_key[(before, e.stratum, e.index)], e) for e in estimates
                 if e.period == after and (before, e.stratum, e.index) in by_key]
        out += _pair_changes(pairs, method, alpha)
    return out


def _pair_changes(pairs: list[tuple[Estimate, Estimate]], method: str, alpha: float) -> list[Change]:
    tests = [_test(a, b) for a, b in pairs]
    p = np.array([t[2] for t in tests if t[2] is not None])
    adjusted = iter(adjust(p, method).tolist() if p.size else [])
    out = []
    for (a, b), (delta, se, p_value, df) in zip(pairs, tests, strict=True):
        p_adj = next(adjusted) if p_value is not None else None
        half = float(special.stdtrit(df, 0.975)) * se if delta is not None and se is not None else None
        ci = (delta - half, delta + half) if delta is not None and half is not None else (None, None)
        out.append(Change(stratum=b.stratum, index=b.index, period_from=a.period, period_to=b.period,
                          change=delta, se=se, p_value=p_value, p_adjusted=p_adj,
                          significant=p_adj is not None and p_adj < alpha, ci_low=ci[0], ci_high=ci[1],
                          df=df))
    return out


def _test(a: Estimate, b: Estimate) -> tuple[float | None, float | None, float | None, float]:
    """Change, its SE, the two-sided t p-value and the Satterthwaite df (inf: the normal)."""
    if a.estimate is None or b.estimate is None or a.se is None or b.se is None:
        return None, None, None, np.inf
    delta = b.estimate - a.estimate
    se = float(np.hypot(a.se, b.se))
    df = satterthwaite(a.se**2, a.df, b.se**2, b.df)
    if se == 0:
        return delta, se, None, df
    return delta, se, float(2 * special.stdtr(df, -abs(delta) / se)), df


def satterthwaite(v1: float, df1: int | None, v2: float, df2: int | None) -> float:
    """df of V1 + V2 (module docstring); inf when either df is unknown or both variances are 0."""
    if not df1 or not df2 or v1 + v2 == 0:
        return float(np.inf)
    return float((v1 + v2) ** 2 / (v1**2 / df1 + v2**2 / df2))
