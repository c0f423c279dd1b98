"""The officials' dashboard applies the bulletin's publication rule to ranks and changes too: the
analysis ranks every township and measures every change, withheld estimates included."""

from __future__ import annotations

from analysis.results import COUNTY, AnalysisResult, Change, Estimate, Rank
from survey.models import Stratum, Survey
from web.queries.dashboard import build


def _estimate(period: str, stratum: str, p: float, n: int, deff: float = 1.2) -> Estimate:
    se = (p * (1 - p) * deff / n) ** 0.5
    return Estimate(period=period, stratum=stratum, index="safety", kind="share", n=n, estimate=p, se=se,
                    ci_low=p - 1.96 * se, ci_high=p + 1.96 * se, deff=deff, deff_kish=deff, n_eff=n / deff)


def _result() -> AnalysisResult:
    """Q2: A and B published, C withheld (40 respondents, effective n 20) yet ranked first by the
    analysis; Q1: B withheld (20 respondents)."""
    result = AnalysisResult()
    result.estimates += [_estimate("Q1", "A", 0.55, 200), _estimate("Q1", "B", 0.70, 20),
                         _estimate("Q1", "C", 0.90, 200), _estimate("Q1", COUNTY, 0.66, 420),
                         _estimate("Q2", "A", 0.60, 200), _estimate("Q2", "B", 0.80, 200),
                         _estimate("Q2", "C", 0.95, 40, deff=2.0), _estimate("Q2", COUNTY, 0.70, 440)]
    result.ranks += [Rank("Q2", "safety", "C", 1, 1, 2, "above"), Rank("Q2", "safety", "B", 2, 1, 3, "same"),
                     Rank("Q2", "safety", "A", 3, 2, 3, "below")]
    result.changes += [Change(code, "safety", "Q1", "Q2", 0.05, 0.02, 0.01, 0.03, significant=True)
                       for code in ("A", "B", "C", COUNTY)]
    return result


def test_withheld_townships_are_not_ranked_and_changes_need_both_ends_published() -> None:
    survey = Survey(code="S", period="Q2", analysis_spec=None)
    survey.strata = [Stratum(code=code, name_zh=code, name_en=code) for code in ("A", "B", "C")]
    view = build(_result(), survey, "safety", None, "zh")
    assert view is not None
    rows = {row.code: row for row in view.rows}
    assert [row.code for row in view.rows] == ["B", "A", "C"]  # the published by rank, then the withheld
    assert rows["C"].rank is None and rows["C"].change is None  # withheld: no rank, no test, no change
    assert rows["B"].rank is not None and rows["B"].rank.rank == 1 and rows["B"].rank.rank_high <= 2  # of 2
    assert rows["A"].rank is not None and rows["A"].rank.rank == 2 and rows["A"].rank.tier == "below"
    assert rows["B"].change is None  # from a withheld estimate
    assert rows["A"].change is not None and view.county.change is not None
