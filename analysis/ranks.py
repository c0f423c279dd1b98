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
from scipy import stats

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


def rank_table(units: list[Estimate], family: str = "joint") -> tuple[NDArray[np.int32], ...]:
    """Point ranks (ties in list order), and the rank sets' lower and upper ends, of estimates of one index."""
    def column(values: list[float | None]) -> NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    est = column([e.estimate for e in units])
    comparison = Comparison.of(units[0].kind if units else "score", est, column([e.se for e in units]),
                               column([np.inf if e.df is None else e.df for e in units]),
                               census=np.array([e.ci_method == CENSUS for e in units], dtype=bool),
                               ci_low=column([e.ci_low for e in units]), ci_high=column([e.ci_high for e in units]))
    low, high = rank_sets(comparison, family)
    return _descending_ranks(est), low, high


def _rank_group(period: str, index: str, towns: list[Estimate], county: Estimate,
                se_vs_county: Mapping[tuple[str, str, str], float], family: str) -> list[Rank]:
    point, low, high = rank_table(towns, family)
    p = [_versus_county(e, county, se_vs_county.get((period, index, e.stratum))) for e in towns]
    tested = np.array([v[1] for v in p if v[1] is not None], dtype=np.float64)
    adjusted = iter(holm(tested).tolist())
    out = []
    for j, (e, (diff, p_value)) in enumerate(zip(towns, p, strict=True)):
        p_adj = next(adjusted) if p_value is not None else None
        tier = "same" if p_adj is None or p_adj >= ALPHA else "above" if diff > 0 else "below"
        out.append(Rank(period=period, index=index, stratum=e.stratum, rank=int(point[j]),
                        rank_low=int(low[j]), rank_high=int(high[j]), tier=tier, p_value=p_value,
                        p_adjusted=p_adj))
    return out


def _descending_ranks(values: NDArray[np.float64]) -> NDArray[np.int32]:
    """1-based ranks, largest first, earlier position first on ties."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(values.size, dtype=np.int32)
    ranks[order] = np.arange(1, values.size + 1, dtype=np.int32)
    return ranks


def _versus_county(town: Estimate, county: Estimate, se_diff: float | None) -> tuple[float, float | None]:
    """The township's difference from the county on the intervals' scale and its two-sided t p-value
    (None when it cannot be tested); see the module docstring."""
    p_h, p, v_h, v = town.estimate, county.estimate, (town.se or 0.0) ** 2, (county.se or 0.0) ** 2
    if p_h is None or p is None or se_diff is None:
        return 0.0, None
    if town.kind == "share" and 0 < p_h < 1 and 0 < p < 1:
        a, b = 1 / (p_h * (1 - p_h)), 1 / (p * (1 - p))
        cov = (v_h + v - se_diff**2) / 2
        diff, var = float(np.log(p_h / (1 - p_h)) - np.log(p / (1 - p))), a * a * v_h + b * b * v - 2 * a * b * cov
    else:
        diff, var = p_h - p, se_diff**2
    if var <= 0:  # both known exactly (complete enumeration): any difference is real
        return diff, (0.0 if diff != 0 else None)
    df = town.df if town.df else np.inf
    return diff, float(2 * stats.t.sf(abs(diff) / np.sqrt(var), df))
