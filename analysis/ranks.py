"""Township ranks with rank confidence sets, and tiers against the county.

Townships are ranked among the townships, groups of townships (counties of a province) among the
groups, per period and index. Rank 1 is the highest estimate (ties broken by township code). The
rank interval [rank_low, rank_high] is the rank confidence set of :mod:`analysis.rank_sets`: built
from Bonferroni-simultaneous pairwise-difference intervals (Klein, Wright & Wieczorek 2020, JRSS-C;
Mogstad, Romano, Shaikh & Wilhelm 2024, REStud), family ``joint`` by default, so the set of all
rank intervals of a period and index covers the true ranks jointly with probability >= 95%. It
always contains the point rank. No random numbers are drawn: reruns give the same sets.

Tier: "above" or "below" when the township is shown to differ from the county, else "same" ("not
shown to differ", never "shown to be the same"). The test is on the scale of the intervals drawn
beside the estimates: logit for shares, linear for scores. The county mean p = sum_k W_k p_k
contains the township, so for independent strata Cov(p_h, p) = W_h Var(p_h) and

    Var(p_h - p) = Var(p_h) + Var(p) - 2 W_h Var(p_h) = Var(p_h)(1 - 2 W_h) + Var(p)

(Cochran, Sampling Techniques, 3rd ed. 1977, eq. 5.6 for Var(p) of a stratified mean; the
covariance follows from the independence of the strata). ``se_vs_county`` is the linearised SE of
p_h - p, which is this quantity with the estimated shares, so Cov(p_h, p) = (V_h + V - V_diff)/2.
On the logit scale, by the delta method with a = 1/(p_h(1 - p_h)) and b = 1/(p(1 - p)),

    Var(logit p_h - logit p) = a^2 V_h + b^2 V - 2ab Cov(p_h, p).

t = difference / SE with the township's df (n_valid - 1); two-sided p-values are Holm-adjusted over
the townships of one period and index (family-wise 5%). A share of 0 or 1 has no logit and is
tested on the linear scale.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from scipy import special

from analysis.changes import holm
from analysis.intervals import CENSUS
from analysis.rank_sets import FAMILIES, Comparison, rank_sets
from analysis.results import COUNTY, Estimate, Rank

ALPHA = 0.05  # family-wise level of the tiers


def ranks(estimates: list[Estimate], se_vs_county: Mapping[tuple[str, str, str], float],
          family: str = "joint") -> list[Rank]:
    """Ranks of the estimable townships, and of the groups (e.g. counties) among themselves, per period
    and index; ``se_vs_county`` keyed by (period, index, township or group)."""
    if family not in FAMILIES:
        raise ValueError(f"rank family must be one of {FAMILIES}")
    county: dict[tuple[str, str], Estimate] = {}
    peers: dict[tuple[str, str, str], list[Estimate]] = {}
    for e in estimates:
        if e.stratum == COUNTY:
            county[(e.period, e.index)] = e
        elif e.estimate is not None and e.se is not None:
            peers.setdefault((e.period, e.index, e.level), []).append(e)
    out: list[Rank] = []
    for (period, index, _), rows in peers.items():
        out += _rank_group(period, index, sorted(rows, key=lambda e: e.stratum), county[(period, index)],
                           se_vs_county, family)
    return out


def _column(values: list[float | None] | list[float]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def rank_table(units: list[Estimate], family: str = "joint") -> tuple[NDArray[np.int32], ...]:
    """Point ranks (ties in list order), and the rank sets' lower and upper ends, of estimates of one index."""
    est = _column([e.estimate for e in units])
    comparison = Comparison.of(units[0].kind if units else "score", est, _column([e.se for e in units]),
                               _column([np.inf if e.df is None else e.df for e in units]),
                               census=np.array([e.ci_method == CENSUS for e in units], dtype=bool),
                               ci_low=_column([e.ci_low for e in units]), ci_high=_column([e.ci_high for e in units]))
    low, high = rank_sets(comparison, family)
    return _descending_ranks(est), low, high


def _rank_group(period: str, index: str, towns: list[Estimate], county: Estimate,
                se_vs_county: Mapping[tuple[str, str, str], float], family: str) -> list[Rank]:
    point, low, high = rank_table(towns, family)
    diff, p = _versus_county(towns, county, _column([se_vs_county.get((period, index, e.stratum)) for e in towns]))
    tested = ~np.isnan(p)
    p_adj = np.full(p.size, np.nan)
    p_adj[tested] = holm(p[tested])
    out = []
    for j, e in enumerate(towns):
        p_value, adjusted = (float(p[j]), float(p_adj[j])) if tested[j] else (None, None)
        tier = "same" if adjusted is None or adjusted >= ALPHA else "above" if diff[j] > 0 else "below"
        out.append(Rank(period=period, index=index, stratum=e.stratum, rank=int(point[j]),
                        rank_low=int(low[j]), rank_high=int(high[j]), tier=tier, p_value=p_value,
                        p_adjusted=adjusted))
    return out


def _descending_ranks(values: NDArray[np.float64]) -> NDArray[np.int32]:
    """1-based ranks, largest first, earlier position first on ties."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(values.size, dtype=np.int32)
    ranks[order] = np.arange(1, values.size + 1, dtype=np.int32)
    return ranks


def _versus_county(towns: list[Estimate], county: Estimate,
                   se_diff: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each township's difference from the county on the intervals' scale and its two-sided t p-value
    (NaN when it cannot be tested: no SE of the difference). See the module docstring. A variance of
    0 means both are known exactly (complete enumeration): any difference is real (p = 0)."""
    p_h, v_h = _column([e.estimate for e in towns]), _column([e.se or 0.0 for e in towns]) ** 2
    df = _column([e.df if e.df else np.inf for e in towns])
    p = np.float64(np.nan if county.estimate is None else county.estimate)
    v = (county.se or 0.0) ** 2
    logit = np.array([e.kind == "share" for e in towns], dtype=bool) & (p_h > 0) & (p_h < 1) & (0 < p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = 1 / (p_h * (1 - p_h)), 1 / (p * (1 - p))
        cov = (v_h + v - se_diff**2) / 2
        diff = np.where(logit, special.logit(p_h) - special.logit(p), p_h - p)
        var = np.where(logit, a * a * v_h + b * b * v - 2 * a * b * cov, se_diff**2)
        p_value = np.where(var > 0, 2 * special.stdtr(df, -np.abs(diff) / np.sqrt(var)),
                           np.where(diff != 0, 0.0, np.nan))
    p_value[np.isnan(se_diff) | np.isnan(diff)] = np.nan
    return np.nan_to_num(diff), p_value
