"""Change of each index between consecutive periods, per township and county.

The periods are independent samples, each weighted to the same census, so
SE(change) = sqrt(V1 + V2) and t = change / SE, with Satterthwaite's df

    df = (V1 + V2)^2 / (V1^2 / df1 + V2^2 / df2)

(Satterthwaite 1946, Biometrics Bulletin 2:110-114; df1, df2 the estimates' design df), two-sided
p-value and 95% CI change +- t_{df,.975} SE; the normal when an estimate has no df. p-values are adjusted for
multiplicity by Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) within a family:
the changes of one index at one level (the townships, the counties of a province, the whole file)
for one pair of periods, as the test against the county is adjusted over the townships of one index.
A family is what one of the bulletin's tables shows: an index's townships, a province's counties in
its ranking, the county's (or the province's) own headline change. Adjusted together, a county's
headline change stood among 80 tests in a 21-township county, and a province's county changes among
thousands. Panel respondents would need a covariance term; the
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
    adjusted = _adjusted_by_family([(b.level, b.index) for _, b in pairs], [t[2] for t in tests], method)
    out = []
    for (a, b), (delta, se, p_value, df), p_adj in zip(pairs, tests, adjusted, strict=True):
        half = float(special.stdtrit(df, 0.975)) * se if delta is not None and se is not None else None
        ci = (delta - half, delta + half) if delta is not None and half is not None else (None, None)
        out.append(Change(stratum=b.stratum, index=b.index, period_from=a.period, period_to=b.period,
                          change=delta, se=se, p_value=p_value, p_adjusted=p_adj,
                          significant=p_adj is not None and p_adj < alpha, ci_low=ci[0], ci_high=ci[1],
                          df=df))
    return out


def _adjusted_by_family(families: list[tuple[str, str]], p_values: list[float | None],
                        method: str) -> list[float | None]:
    """Each p-value adjusted within its family, (level, index) (None where there is no test)."""
    out: list[float | None] = [None] * len(p_values)
    for family in dict.fromkeys(families):
        where = [i for i, (f, p) in enumerate(zip(families, p_values, strict=True)) if f == family and p is not None]
        if where:
            for i, q in zip(where, adjust(np.array([p_values[i] for i in where]), method).tolist(), strict=True):
                out[i] = q
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
