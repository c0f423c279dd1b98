"""Township ranks with simulated rank intervals, and tiers against the county.

Rank 1 is the highest estimate (ties broken by township code). The rank interval is the central 95%
of the ranks in ``draws`` joint draws from the estimates' sampling distributions N(estimate, SE^2),
independent across townships (independent strata), from a generator seeded by ``seed`` and the
period and index, so runs repeat exactly. Tier: "above" or "below" when the township differs from
the county at the 5% level (two-sided, linearised SE of the difference, which accounts for the
township being part of the county), otherwise "same". Tiers are not adjusted for multiplicity.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

from analysis.intervals import Z
from analysis.results import COUNTY, Estimate, Rank

DRAWS = 5000


def ranks(estimates: list[Estimate], se_vs_county: Mapping[tuple[str, str, str], float], seed: int,
          draws: int = DRAWS) -> list[Rank]:
    """Ranks of the estimable townships per period and index; ``se_vs_county`` keyed by
    (period, index, township)."""
    out: list[Rank] = []
    keys = dict.fromkeys((e.period, e.index) for e in estimates)
    for period, index in keys:
        towns = sorted((e for e in estimates if e.period == period and e.index == index
                        and e.stratum != COUNTY and e.estimate is not None and e.se is not None),
                       key=lambda e: e.stratum)
        county = next(e for e in estimates if e.period == period and e.index == index and e.stratum == COUNTY)
        if towns:
            out += _rank_group(period, index, towns, county, se_vs_county, seed, draws)
    return out


def _rank_group(period: str, index: str, towns: list[Estimate], county: Estimate,
                se_vs_county: Mapping[tuple[str, str, str], float], seed: int, draws: int) -> list[Rank]:
    est = np.array([e.estimate for e in towns], dtype=np.float64)
    se = np.array([e.se for e in towns], dtype=np.float64)
    point = _descending_ranks(est[None, :])[0]
    rng = np.random.default_rng([seed, zlib.crc32(f"{period}\x1f{index}".encode())])
    simulated = _descending_ranks(est + se * rng.standard_normal((draws, est.size)))
    low = np.quantile(simulated, 0.025, axis=0, method="lower").astype(int)
    high = np.quantile(simulated, 0.975, axis=0, method="higher").astype(int)
    out = []
    for j, e in enumerate(towns):
        tier = _tier(e, county, se_vs_county.get((period, index, e.stratum)))
        out.append(Rank(period=period, index=index, stratum=e.stratum, rank=int(point[j]),
                        rank_low=int(low[j]), rank_high=int(high[j]), tier=tier))
    return out


def _descending_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, largest first, earlier column first on ties."""
    order = np.argsort(-values, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, values.shape[-1] + 1)[None, :], axis=-1)
    return ranks


def _tier(town: Estimate, county: Estimate, se: float | None) -> str:
    if county.estimate is None or town.estimate is None or se is None:
        return "same"
    diff = town.estimate - county.estimate
    if se == 0:
        return "same" if diff == 0 else ("above" if diff > 0 else "below")
    z = diff / se
    return "above" if z > Z else "below" if z < -Z else "same"
