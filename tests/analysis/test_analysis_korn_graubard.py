"""Korn-Graubard intervals: the effective n capped at the domain's n, R's ``svyciprop(method="beta")``
where it makes the same choice, and the stated interval at an estimate of 0 or 1.

fixtures/r/beta.csv comes from tests/analysis/r/beta.R (R survey 4.1-1) on fixtures/r's wave 2025.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import FIXTURES, SPEC_DICT, survey_frames
from scipy import stats

from analysis.intervals import FALLBACK, intervals, korn_graubard, wilson_interval
from analysis.pipeline import Options, run_analysis
from analysis.spec import parse_spec


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def clopper_pearson(p: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the beta quantiles, for p n successes (not always whole) out of n."""
    x = p * n
    return stats.beta.ppf(0.025, x, n - x + 1), stats.beta.ppf(0.975, x + 1, n - x)


def test_an_effective_n_above_n_is_capped_at_n() -> None:
    """After post-stratification n_eff can exceed n; the interval is then Clopper-Pearson on n, not
    narrower."""
    p, n = arr(0.3, 0.85), arr(50, 120)
    low, high = korn_graubard(p, n_eff=arr(80, 200), n=n, df=n - 1)
    np.testing.assert_allclose((low, high), clopper_pearson(p, n), rtol=1e-10)
    low, high = korn_graubard(p, n_eff=arr(40, 100), n=n, df=n - 1)  # below n: used as it is
    np.testing.assert_allclose((low, high), clopper_pearson(p, arr(40, 100)), rtol=1e-10)


def test_the_df_factor_applies_before_the_cap() -> None:
    """County: df = n - H < n - 1, so n_eff shrinks by (t_{n-1}/t_df)^2 and only then meets the cap."""
    p, n, df = arr(0.7), arr(60), arr(40)
    factor = (stats.t.ppf(0.975, 59) / stats.t.ppf(0.975, 40)) ** 2
    low, high = korn_graubard(p, n_eff=arr(61), n=n, df=df)
    np.testing.assert_allclose((low, high), clopper_pearson(p, arr(61 * factor)), rtol=1e-10)
    low, high = korn_graubard(p, n_eff=arr(90), n=n, df=df)
    np.testing.assert_allclose((low, high), clopper_pearson(p, n), rtol=1e-10)


def test_wilson_uses_the_same_capped_n() -> None:
    p, n = arr(0.8), arr(40)
    ci = intervals(share=True, method="wilson", estimate=p, se=np.sqrt(p * (1 - p) / 55), df=n - 1, n=n,
                   n_eff=p * (1 - p) / (p * (1 - p) / 55), n_kish=n, low=0.0, high=1.0)
    np.testing.assert_allclose((ci.low, ci.high), wilson_interval(p, n), rtol=1e-12)


@pytest.fixture(scope="module")
def beta() -> pd.DataFrame:
    table = pd.read_csv(FIXTURES / "r" / "beta.csv")
    table["n_eff"] = table.estimate * (1 - table.estimate) / table.se**2
    table["uncapped"] = table.n_eff * (stats.t.ppf(0.975, table.n - 1) / stats.t.ppf(0.975, table.df)) ** 2
    return table


def interior(table: pd.DataFrame, design: str) -> pd.DataFrame:
    return table[(table.design == design) & (table.estimate < 1 - 1e-12)]


def test_korn_graubard_equals_r_beta_where_r_uses_the_domain_n_and_no_cap_binds(beta: pd.DataFrame) -> None:
    rows = interior(beta, "nofpc")
    assert len(rows) == 13 and (rows.uncapped <= rows.n).all()  # 6 townships + county, twice, less T01 at 1
    low, high = korn_graubard(rows.estimate.to_numpy(), rows.n_eff.to_numpy(), rows.n.to_numpy(float),
                              rows.df.to_numpy(float))
    np.testing.assert_allclose(low, rows.beta_low, rtol=1e-10)
    np.testing.assert_allclose(high, rows.beta_high, rtol=1e-10)


def test_where_r_uses_more_trials_than_respondents_ours_is_clopper_pearson_on_them(beta: pd.DataFrame) -> None:
    """With the fpc, a township's n_eff is (n - 1)/(1 - f) > n: R's interval is narrower than exact
    binomial on the people asked; ours is that exact interval."""
    rows = interior(beta, "fpc")
    rows = rows[rows.stratum != "ALL"]
    assert len(rows) == 11 and (rows.uncapped > rows.n).all()
    p, n = rows.estimate.to_numpy(), rows.n.to_numpy(float)
    low, high = korn_graubard(p, rows.n_eff.to_numpy(), n, rows.df.to_numpy(float))
    np.testing.assert_allclose((low, high), clopper_pearson(p, n), rtol=1e-10)
    assert np.all(low < rows.beta_low) and np.all(high > rows.beta_high)


def test_at_an_estimate_of_1_r_gives_a_point_and_ours_is_clopper_pearson_on_the_kish_n(beta: pd.DataFrame) -> None:
    at_one = beta[(beta["index"] == "allsafe") & (beta.stratum == "T01")]
    assert len(at_one) == 2
    assert np.all(at_one.beta_high - at_one.beta_low < 1e-12) and np.all(at_one.logit_high - at_one.logit_low < 1e-9)
    n = at_one.n.to_numpy(float)  # equal weights within a township: Kish n = n
    ci = intervals(share=True, method="kg", estimate=np.ones(2), se=np.zeros(2), df=n - 1, n=n,
                   n_eff=np.full(2, np.nan), n_kish=n, low=0.0, high=1.0)
    np.testing.assert_allclose(ci.low, 0.025 ** (1 / n), rtol=1e-12)
    assert np.all(ci.high == 1) and set(ci.method) == {FALLBACK}


@pytest.mark.parametrize(("favourable", "expected_end"), [([1, 2, 3, 4, 5], "low"), ([], "high")])
def test_a_township_at_0_or_100_percent_gets_the_stated_interval(favourable: list[int], expected_end: str) -> None:
    """Through the pipeline: every valid answer in township A favourable (or none), post-stratified
    weights: [0.025^(1/n_k), 1] or [0, 1 - 0.025^(1/n_k)] with n_k = n / deff_kish."""
    responses, cells = survey_frames(seed=5)
    a = responses.township == "A"
    responses.loc[a & ~responses.q_safety.isin([8, 9]), "q_safety"] = 1 if favourable else 5
    spec = parse_spec({"indices": {"safety": {**SPEC_DICT["indices"]["safety"], "favourable": [1, 2, 3]}}})
    for ci in ("logit", "kg", "wilson"):
        run = run_analysis(responses, cells, spec, Options(by=("age_group", "sex"), ci=ci))
        e = next(e for e in run.result.estimates if e.stratum == "A")
        assert e.deff_kish is not None and e.deff_kish > 1
        n_k = e.n / e.deff_kish
        assert e.ci_method == FALLBACK and e.se == 0
        if expected_end == "low":
            assert (e.estimate, e.ci_high) == (1.0, 1.0)
            assert e.ci_low == pytest.approx(0.025 ** (1 / n_k), rel=1e-12)
        else:
            assert (e.estimate, e.ci_low) == (0.0, 0.0)
            assert e.ci_high == pytest.approx(1 - 0.025 ** (1 / n_k), rel=1e-12)
