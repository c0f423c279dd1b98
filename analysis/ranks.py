"""Township ranks with simulated rank intervals, and tiers against the county.

Townships are ranked among the townships, groups of townships (counties of a province) among the
groups. Rank 1 is the highest estimate (ties broken by township code). The rank interval is the central 95%
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
from analysis.results import COUNTY, STRATUM, Estimate, Rank

DRAWS = 5000


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
    point = _descending_ranks(est[None, :])[0]
    simulated = _descending_ranks(est + se * rng.standard_normal((draws, est.size)))
    low, high = _central_ranks(simulated)
    out = []
    for j, e in enumerate(towns):
        tier = _tier(e, county, se_vs_county.get((period, index, e.stratum)))
        out.append(Rank(period=period, index=index, stratum=e.stratum, rank=int(point[j]),
                        rank_low=int(low[j]), rank_high=int(high[j]), tier=tier))
    return out


def _central_ranks(simulated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the 2.5% quantile rounded down and the 97.5% one rounded up (numpy's "lower" and
    "higher" methods), from one partial sort."""
    last = simulated.shape[0] - 1
    lower, upper = int(np.floor(0.025 * last)), int(np.ceil(0.975 * last))
    parted = np.partition(simulated, (lower, upper), axis=0)
    return parted[lower], parted[upper]


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
