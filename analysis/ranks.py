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
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from analysis.grouping import FloatArray
from analysis.intervals import Z
from analysis.results import COUNTY, STRATUM, Estimate, Rank

DRAWS = 5000
CHUNK = 500  # draws ranked at a time: bounds the memory at CHUNK x units floats
LOW, HIGH = 0.025, 0.975


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
    out = []
    for j, e in enumerate(towns):
        tier = _tier(e, county, se_vs_county.get((period, index, e.stratum)))
        out.append(Rank(period=period, index=index, stratum=e.stratum, rank=int(point[j]),
                        rank_low=int(low[j]), rank_high=int(high[j]), tier=tier))
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


def _tier(town: Estimate, county: Estimate, se: float | None) -> str:
    if county.estimate is None or town.estimate is None or se is None:
        return "same"
    diff = town.estimate - county.estimate
    if se == 0:
        return "same" if diff == 0 else ("above" if diff > 0 else "below")
    z = diff / se
    return "above" if z > Z else "below" if z < -Z else "same"
