"""Confidence intervals: textbook identities, ordering of widths, bounds, and the se = 0 fallback."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.intervals import FALLBACK, intervals, korn_graubard, logit_interval, wilson_interval


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_korn_graubard_with_the_nominal_n_is_clopper_pearson() -> None:
    for x, n in [(0, 12), (3, 12), (11, 40), (40, 40)]:
        low, high = korn_graubard(arr(x / n), arr(n), arr(n), arr(n - 1))
        exact = stats.binomtest(x, n).proportion_ci(method="exact")
        assert (low[0], high[0]) == pytest.approx((exact.low, exact.high), abs=1e-12)


def test_wilson_matches_the_score_interval() -> None:
    for x, n in [(1, 10), (7, 25), (60, 61)]:
        low, high = wilson_interval(arr(x / n), arr(n))
        score = stats.binomtest(x, n).proportion_ci(method="wilson")
        assert (low[0], high[0]) == pytest.approx((score.low, score.high), abs=1e-12)


def test_logit_interval_is_the_t_wald_interval_on_the_logit_scale() -> None:
    p, se, df = 0.8, 0.05, 30
    low, high = logit_interval(arr(p), arr(se), arr(df))
    half = stats.t.ppf(0.975, df) * se / (p * (1 - p))
    assert np.log(low[0] / (1 - low[0])) == pytest.approx(np.log(4) - half, rel=1e-12)
    assert np.log(high[0] / (1 - high[0])) == pytest.approx(np.log(4) + half, rel=1e-12)


def test_korn_graubard_is_at_least_as_wide_as_wilson_at_small_n() -> None:
    p = np.repeat(np.linspace(0.02, 0.98, 25), 4)
    n = np.tile(arr(8, 15, 30, 60), 25)
    kg_low, kg_high = korn_graubard(p, n, n, n - 1)
    w_low, w_high = wilson_interval(p, n)
    assert np.all(kg_high - kg_low >= w_high - w_low - 1e-12)


@pytest.mark.parametrize("method", ["logit", "wilson", "kg"])
def test_share_intervals_stay_inside_zero_one_and_around_the_estimate(method: str) -> None:
    p = arr(0.001, 0.02, 0.5, 0.97, 0.999)
    se = np.sqrt(p * (1 - p) / 40) * 1.3
    ci = intervals(share=True, method=method, estimate=p, se=se, df=arr(*[39] * 5), n=arr(*[40] * 5),
                   n_eff=p * (1 - p) / se**2, n_kish=arr(*[35] * 5), low=0.0, high=1.0)
    assert np.all((ci.low >= 0) & (ci.low < p) & (p < ci.high) & (ci.high <= 1))
    assert set(ci.method) == {method}


def test_zero_se_shares_fall_back_to_korn_graubard_with_the_kish_n() -> None:
    ci = intervals(share=True, method="logit", estimate=arr(0.0, 1.0), se=arr(0.0, 0.0), df=arr(19, 19),
                   n=arr(20, 20), n_eff=arr(np.nan, np.nan), n_kish=arr(16, 16), low=0.0, high=1.0)
    assert ci.low[0] == 0 and ci.high[1] == 1
    assert ci.high[0] == pytest.approx(1 - 0.025 ** (1 / 16), rel=1e-12)  # Clopper-Pearson upper for 0/16
    assert ci.low[1] == pytest.approx(0.025 ** (1 / 16), rel=1e-12)
    assert list(ci.method) == [FALLBACK, FALLBACK]


def test_zero_se_scores_get_a_nonzero_interval_inside_the_score_range() -> None:
    ci = intervals(share=False, method="logit", estimate=arr(100.0, 60.0), se=arr(0.0, 0.0), df=arr(4, 4),
                   n=arr(5, 5), n_eff=arr(np.nan, np.nan), n_kish=arr(5, 5), low=0.0, high=100.0)
    assert ci.high[0] == 100 and 0 < ci.low[0] < 100
    assert 0 < ci.low[1] < 60 < ci.high[1] < 100
    assert list(ci.method) == [FALLBACK, FALLBACK]


def test_score_intervals_asked_for_as_t_use_t_on_the_design_df() -> None:
    ci = intervals(share=False, method="kg", estimate=arr(70.0), se=arr(2.0), df=arr(12), n=arr(13),
                   n_eff=arr(np.nan), n_kish=arr(13), low=0.0, high=100.0, score_method="t")
    half = stats.t.ppf(0.975, 12) * 2.0
    assert (ci.low[0], ci.high[0]) == pytest.approx((70 - half, 70 + half), rel=1e-12)
    assert list(ci.method) == ["t"]


def score_ci(estimate: np.ndarray, se: np.ndarray, df: np.ndarray, low: float = 0.0, high: float = 100.0,
             method: str = "logit") -> tuple[np.ndarray, np.ndarray, list[str]]:
    n = df + 1
    ci = intervals(share=False, method="wilson", estimate=estimate, se=se, df=df, n=n, n_eff=arr(*[np.nan] * n.size),
                   n_kish=n, low=low, high=high, score_method=method)
    return ci.low, ci.high, list(ci.method)


def test_score_intervals_are_logit_intervals_on_the_score_rescaled_to_its_range() -> None:
    low, high, method = score_ci(arr(70.0), arr(2.0), arr(12), low=-50.0, high=150.0)
    p, se_p, t = 120 / 200, 2 / 200, stats.t.ppf(0.975, 12)  # by hand, on a -50..150 scale
    half = t * se_p / (p * (1 - p))
    logit = np.log(p / (1 - p))
    expected = [-50 + 200 / (1 + np.exp(-(logit + sign * half))) for sign in (-1, 1)]
    assert (low[0], high[0]) == pytest.approx(tuple(expected), rel=1e-12)
    assert method == ["logit"]


def test_score_intervals_lean_away_from_the_near_end_of_the_range_and_stay_inside_it() -> None:
    estimate, se, df = arr(96.0, 4.0, 50.0, 99.5, 0.3), arr(3.0, 3.0, 3.0, 2.0, 1.5), arr(8, 8, 8, 3, 3)
    low, high, _ = score_ci(estimate, se, df)
    t_low, t_high, _ = score_ci(estimate, se, df, method="t")
    assert high[0] - estimate[0] < estimate[0] - low[0]  # near 100: the room above is short
    assert high[1] - estimate[1] > estimate[1] - low[1]  # near 0, the mirror image
    assert (low[1], high[1]) == pytest.approx((100 - high[0], 100 - low[0]), rel=1e-12)
    assert high[2] - 50 == pytest.approx(50 - low[2], rel=1e-12)  # symmetric in the middle
    assert t_high[0] > 100 and t_low[1] < 0 and t_high[3] > 100 and t_low[4] < 0  # where t leaves the range
    assert np.all((low > 0) & (high < 100) & (low < estimate) & (estimate < high))


def test_scores_at_an_end_of_their_range_keep_the_t_interval_or_the_se0_fallback() -> None:
    # se > 0 at an end happens only by rounding; se = 0 (every answer alike) gets the fallback
    low, high, method = score_ci(arr(100.0, 0.0, 100.0), arr(0.5, 0.5, 0.0), arr(9, 9, 9))
    half = stats.t.ppf(0.975, 9) * 0.5
    assert (low[0], high[0], low[1], high[1]) == pytest.approx((100 - half, 100 + half, -half, half), rel=1e-12)
    assert method == ["t", "t", FALLBACK]
    assert high[2] == 100 and 0 < low[2] < 100


def test_unknown_score_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="score CI"):
        score_ci(arr(50.0), arr(1.0), arr(9), method="wilson")
