"""The publication rule: withhold small cells, flag unreliable ones, rank only what is published.

Withheld (—): unweighted n or effective n below the threshold, or no estimate at all.
Flagged (※): n in the flag band, or a 95% CI wider than ±10 points (20 points end to end).
Ranks are taken over the published townships only, so a withheld township never pushes
another one down the table.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from enum import Enum
from typing import TypeGuard

import numpy as np

from analysis.results import COUNTY, Change, Estimate, Rank
from reports.bulletin_data import BulletinData, ReliabilityRule


class Reliability(Enum):
    OK = "ok"
    FLAGGED = "flagged"
    SUPPRESSED = "suppressed"


def points(value: float, kind: str) -> float:
    """Put a share (0–1) on the 0–100 scale that scores already use."""
    return value * 100.0 if kind == "share" else value


def effective_n(est: Estimate) -> float:
    """The analysis' n_eff, or n over the Kish deff when n_eff is undefined (p̂ of 0 or 1)."""
    if est.n_eff is not None:
        return est.n_eff
    return est.n / est.deff_kish if est.deff_kish else float(est.n)


def assess(est: Estimate | None, rule: ReliabilityRule) -> Reliability:
    if est is None or est.estimate is None or est.n < rule.min_n or effective_n(est) < rule.min_n_eff:
        return Reliability.SUPPRESSED
    if est.n < rule.flag_n_below or not finite(est.ci_low) or not finite(est.ci_high):
        return Reliability.FLAGGED  # an undefined interval is printed "—" and the estimate flagged
    width = points(est.ci_high - est.ci_low, est.kind)
    return Reliability.FLAGGED if width > 2 * rule.flag_half_width_points else Reliability.OK


def finite(x: float | None) -> TypeGuard[float]:
    """A number that can be printed or computed with: not missing, NaN or infinite."""
    return x is not None and math.isfinite(x)


def published_change(
    data: BulletinData, index: str, since: str | None, stratum: str = COUNTY
) -> Change | None:
    """The change since period ``since``, or None when either end is withheld: a change built on a
    withheld estimate would let a reader work the withheld estimate out."""
    change = data.change(index, since, stratum)
    if change is None or since is None:
        return None
    ends = (data.estimate(index, stratum, since), data.estimate(index, stratum))
    if any(assess(end, data.rule) is Reliability.SUPPRESSED for end in ends):
        return None
    return change


@dataclass(frozen=True)
class TownshipRow:
    code: str
    estimate: Estimate | None
    reliability: Reliability
    rank: int | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    tier: str | None = None  # "above", "same" or "below" the county, from the analysis


_ROWS: weakref.WeakKeyDictionary[BulletinData, dict[str, list[TownshipRow]]] = weakref.WeakKeyDictionary()


def township_rows(data: BulletinData, index: str) -> list[TownshipRow]:
    """Published townships by rank, then the withheld ones by code.

    Computed once per issue and index: every section asks for them.
    """
    rows = _ROWS.setdefault(data, {})
    if index not in rows:
        rows[index] = _township_rows(data, index)
    return list(rows[index])


def _township_rows(data: BulletinData, index: str) -> list[TownshipRow]:
    assessed = [
        (t.code, data.estimate(index, t.code), assess(data.estimate(index, t.code), data.rule))
        for t in data.townships
    ]
    published = [
        (code, est) for code, est, rel in assessed if est is not None and rel is not Reliability.SUPPRESSED
    ]
    ranks = published_ranks(published, data.ranks_for(index))
    tiers = {r.stratum: r.tier for r in data.ranks_for(index)}
    rows = [
        TownshipRow(code, est, rel, *ranks[code], tiers.get(code))
        for code, est, rel in assessed
        if rel is not Reliability.SUPPRESSED
    ]
    rows.sort(key=lambda row: (row.rank, row.code))
    withheld = [TownshipRow(code, est, rel) for code, est, rel in assessed if rel is Reliability.SUPPRESSED]
    return rows + sorted(withheld, key=lambda row: row.code)


def published_ranks(published: list[tuple[str, Estimate]], given: list[Rank]) -> dict[str, tuple[int, int, int]]:
    """The analysis' ranks if it ranked exactly the published townships, else re-ranked here."""
    if {r.stratum for r in given} == {code for code, _ in published}:
        return {r.stratum: (r.rank, r.rank_low, r.rank_high) for r in given}
    return rerank(published)


def rerank(published: list[tuple[str, Estimate]]) -> dict[str, tuple[int, int, int]]:
    """Rank by point estimate (1 = highest; ties share the better rank) with the analysis' rank
    confidence sets over the published townships (:func:`analysis.ranks.rank_table`: jointly 95%)."""
    from analysis.ranks import rank_table  # here: it imports scipy.stats, which a bulletin reusing the
    # analysis' ranks (the provincial one) never needs

    if not published:
        return {}
    values = np.array([est.estimate for _, est in published], dtype=float)
    point = (values[None, :] > values[:, None]).sum(axis=1) + 1
    _, low, high = rank_table([est for _, est in published])
    return {code: (int(point[i]), int(low[i]), int(high[i])) for i, (code, _) in enumerate(published)}
