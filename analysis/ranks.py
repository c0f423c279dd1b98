"""Township ranks with simulated rank intervals, and tiers against the county.

Townships are ranked among the townships, groups of townships (counties of a province) among the
groups. Rank 1 is the highest estimate (ties broken by township code). The rank interval is the central 95%
of the ranks in ``draws`` joint draws from the estimates' sampling distributions N(estimate, SE^2),
independent across townships (independent strata), from a generator seeded by ``seed`` and the
period and index, so runs repeat exactly.

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

import zlib
from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from analysis.changes import holm
from analysis.grouping import FloatArray
from analysis.results import COUNTY, STRATUM, Estimate, Rank

DRAWS = 5000
CHUNK = 500  # draws ranked at a time: bounds the memory at CHUNK x units floats
LOW, HIGH = 0.025, 0.975
ALPHA = 0.05  # family-wise level of the tiers


def ranks(estimates: list[Estimate], se_vs_county: Mapping[tuple[str, str, str], float], seed: int,
          draws: int = DRAWS) -> list[Rank]:
    """Ranks of the estimable townships, and of the groups (e.g. counties) among themselves, per period
    and index; ``se_vs_county`` keyed by (period, index, township or group)."""
    county: dict[tuple[str, str], Estimate] = {}
    peers: dict[tuple[str, str, str], list[Estimate]] = {}
    for e in estimates:
        if e.stratum == COUNTY:
            county[(e.period, e.index)] = e
        elif e.estimate is not None and e.se is not None:
            peers.setdefault((e.period, e.index, e.level), []).append(e)
    out: list[Rank] = []
    for (period, index, level), rows in peers.items():
        stream = f"{period}\x1f{index}" + ("" if level == STRATUM else f"\x1f{level}")
        rng = np.random.default_rng([seed, zlib.crc32(stream.encode())])
        out += _rank_group(period, index, sorted(rows, key=lambda e: e.stratum), county[(period, index)],
                           se_vs_county, rng, draws)
    return out


def _rank_group(period: str, index: str, towns: list[Estimate], county: Estimate,
                se_vs_county: Mapping[tuple[str, str, str], float], rng: np.random.Generator,
                draws: int) -> list[Rank]:
    est = np.array([e.estimate for e in towns], dtype=np.float64)
    se = np.array([e.se for e in towns], dtype=np.float64)
    point = _descending_ranks(est[None, :], "stable")[0]
    low, high = rank_intervals(est, se, rng, draws)
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


def rank_intervals(est: FloatArray, se: FloatArray, rng: np.random.Generator,
                   draws: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Per unit, the 2.5% quantile of its simulated ranks rounded down and the 97.5% one rounded up
    (numpy's "lower" and "higher" quantiles).

    Draws are ranked ``CHUNK`` at a time (the generator gives the same numbers as in one call) with
    numpy's unstable SIMD sort; ties, which only units with SE 0 and equal estimates have, are then
    put in column order, as a stable sort would. The quantiles come from one partial sort per unit.
    """
    ties = [np.flatnonzero((se == 0) & (est == value)) for value in np.unique(est[se == 0])]
    ties = [columns for columns in ties if columns.size > 1]
    ranks = np.empty((est.size, draws), dtype=np.int32)
    for start in range(0, draws, CHUNK):
        size = min(CHUNK, draws - start)
        chunk = _descending_ranks(est + se * rng.standard_normal((size, est.size)), "quicksort")
        for columns in ties:
            chunk[:, columns] = np.sort(chunk[:, columns], axis=1)
        ranks[:, start:start + size] = chunk.T
    lower, upper = int(np.floor(draws * LOW - LOW)), int(np.ceil(draws * HIGH - HIGH))
    parted = np.partition(ranks, (lower, upper), axis=1)
    return parted[:, lower], parted[:, upper]


def _descending_ranks(values: FloatArray, kind: Literal["stable", "quicksort"]) -> NDArray[np.int32]:
    """1-based ranks along the last axis, largest first (earlier column first on ties if stable)."""
    order = np.argsort(-values, axis=-1, kind=kind)
    ranks = np.empty(order.shape, dtype=np.int32)
    ranks[np.arange(order.shape[0])[:, None], order] = np.arange(1, values.shape[-1] + 1, dtype=np.int32)
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
