"""A constructed AnalysisResult for the dashboard: three periods, every township, two indices,
with ranks and changes; one township small enough to be withheld."""

from __future__ import annotations

from analysis.results import COUNTY, AnalysisResult, Change, Estimate, Rank
from survey.models import Survey

PERIODS = ("2026-09", "2026-10", "2026-11")
BASE = {"T01": 0.93, "T02": 0.88, "T03": 0.81, "T04": 0.90, "T05": 0.86}
SMALL = "T05"  # n below 30 in the current period: withheld


def _estimate(period: str, stratum: str, index: str, p: float, n: int) -> Estimate:
    se = (p * (1 - p) / n) ** 0.5 * 1.2
    return Estimate(period=period, stratum=stratum, index=index, kind="share", n=n, estimate=p, se=se,
                    ci_low=max(0.0, p - 1.96 * se), ci_high=min(1.0, p + 1.96 * se), deff=1.44, deff_kish=1.3,
                    n_eff=n / 1.44)


def sample_analysis(survey: Survey) -> AnalysisResult:
    result = AnalysisResult()
    codes = [s.code for s in survey.strata]
    for step, period in enumerate(PERIODS):
        for index, shift in (("safety", 0.0), ("satisfaction", -0.04)):
            values = {}
            for code in codes:
                n = 24 if (code == SMALL and period == PERIODS[-1]) else 120 + 10 * step
                values[code] = BASE.get(code, 0.85) + shift + 0.01 * step
                result.estimates.append(_estimate(period, code, index, values[code], n))
            county = sum(values.values()) / len(values)
            result.estimates.append(_estimate(period, COUNTY, index, county, 120 * len(codes)))
    current, previous = PERIODS[-1], PERIODS[-2]
    for index in ("safety", "satisfaction"):
        ordered = sorted((c for c in codes if c != SMALL), key=lambda c: -BASE.get(c, 0.85))
        for rank, code in enumerate(ordered, start=1):
            tier = "above" if rank == 1 else "below" if rank == len(ordered) else "same"
            result.ranks.append(Rank(current, index, code, rank, max(1, rank - 1), min(len(ordered), rank + 1), tier))
        for code in [*codes, COUNTY]:
            result.changes.append(Change(code, index, previous, current, 0.01, 0.004, 0.012, 0.03,
                                         significant=code == COUNTY))
    return result
