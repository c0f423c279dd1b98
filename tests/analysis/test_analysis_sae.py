"""Fay-Herriot EBLUP and Prasad-Rao MSE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import SPEC_DICT, survey_frames
from scipy import optimize

from analysis.errors import AnalysisError
from analysis.pipeline import Options, run_analysis
from analysis.results import Estimate
from analysis.sae import fay_herriot, small_area
from analysis.spec import parse_spec


def test_balanced_intercept_model_has_the_closed_form_reml_solution() -> None:
    """Equal psi and an intercept only: sigma2 = S/(m-1) - psi, gamma constant, known g terms."""
    y = np.array([0.62, 0.71, 0.55, 0.80, 0.67, 0.74, 0.59, 0.69])
    psi, m = 0.002, y.size
    fit = fay_herriot(y, np.full(m, psi), np.ones((m, 1)))
    sigma2 = y.var(ddof=1) - psi
    gamma = sigma2 / (sigma2 + psi)
    assert fit.sigma2 == pytest.approx(sigma2, rel=1e-9)
    np.testing.assert_allclose(fit.eblup, y.mean() + gamma * (y - y.mean()), rtol=1e-9)
    total = sigma2 + psi
    g1, g2, g3 = gamma * psi, (1 - gamma) ** 2 * total / m, (1 - gamma) ** 2 * 2 * total / m
    np.testing.assert_allclose(fit.mse, g1 + g2 + 2 * g3, rtol=1e-8)
    assert np.all(fit.mse < psi)


def test_no_area_variation_gives_the_synthetic_estimate() -> None:
    y = np.array([0.70, 0.71, 0.69, 0.70, 0.70])
    psi = np.full(5, 0.01)
    fit = fay_herriot(y, psi, np.ones((5, 1)))
    assert fit.sigma2 == 0
    np.testing.assert_allclose(fit.eblup, y.mean())


def reml_loglik(sigma2: float, y: np.ndarray, psi: np.ndarray, x: np.ndarray) -> float:
    v = sigma2 + psi
    xtv = x.T / v
    q = np.linalg.inv(xtv @ x)
    p = np.diag(1 / v) - xtv.T @ q @ xtv
    return float(-0.5 * (np.sum(np.log(v)) + np.linalg.slogdet(x.T @ (x / v[:, None]))[1] + y @ p @ y))


def test_fisher_scoring_finds_the_reml_maximum_with_covariates() -> None:
    rng = np.random.default_rng(4)
    m = 20
    x = np.column_stack([np.ones(m), rng.uniform(0, 1, m), rng.uniform(0.3, 0.9, m)])
    psi = rng.uniform(0.001, 0.006, m)
    y = x @ np.array([0.4, 0.2, 0.1]) + rng.normal(0, 0.05, m) + rng.normal(0, np.sqrt(psi))
    fit = fay_herriot(y, psi, x)
    best = optimize.minimize_scalar(lambda s: -reml_loglik(s, y, psi, x), bounds=(0, 0.1), method="bounded",
                                    options={"xatol": 1e-12})
    assert fit.sigma2 == pytest.approx(best.x, rel=1e-5)
    v = fit.sigma2 + psi
    beta = np.linalg.solve(x.T @ (x / v[:, None]), x.T @ (y / v))
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-10)


def test_pipeline_reports_eblups_beside_the_direct_estimates() -> None:
    towns = {t: (5_000 + 1_000 * i, 40 + 15 * i) for i, t in enumerate("ABCDEFG")}
    responses, cells = survey_frames(seed=9, towns=towns)
    aux = pd.DataFrame({"urban": [0.1, 0.5, 0.3, 0.9, 0.2, 0.6, 0.4]}, index=list("ABCDEFG"))
    run = run_analysis(responses, cells, parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}}),
                       Options(by=("age_group", "sex"), aux=aux))
    direct = {e.stratum: e for e in run.result.estimates}
    assert [s.stratum for s in run.result.small_area] == list("ABCDEFG")
    for s in run.result.small_area:
        assert s.direct == direct[s.stratum].estimate
        assert s.mse > 0
    with pytest.raises(AnalysisError, match="no row for township 'G'"):
        run_analysis(responses, cells, parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}}),
                     Options(by=("age_group", "sex"), aux=aux.drop(index="G")))


def test_no_sampling_variance_anywhere_gives_no_model_and_says_why() -> None:
    """Every township answered alike (SE 0): there is nothing to pool, so no EBLUPs rather than NaN."""
    towns = [Estimate(period="P", stratum=t, index="safety", kind="share", n=40, estimate=1.0, se=0.0,
                      ci_low=0.9, ci_high=1.0, deff=None, deff_kish=1.0, n_eff=40.0) for t in "ABCDE"]
    rows, log = small_area(towns, None)
    assert rows == []
    assert log == ["period P, safety: no small-area estimates (no township's direct estimate has a sampling "
                   "variance to pool)"]
