"""Fay-Herriot EBLUP and Prasad-Rao MSE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import SPEC_DICT, survey_frames
from scipy import optimize

from analysis.errors import AnalysisError
from analysis.pipeline import Options, run_analysis
from analysis.results import COUNTY, Estimate
from analysis.sae import fay_herriot, small_area, smoothed_psi
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
    assert log == ["period P, safety: no small-area estimates (no township's share lies strictly between 0 and 1 "
                   "to pool a design effect from)"]


def share(stratum: str, p: float, se: float, n: int, period: str = "P") -> Estimate:
    return Estimate(period=period, stratum=stratum, index="safety", kind="share", n=n, estimate=p, se=se,
                    ci_low=None, ci_high=None, deff=None, deff_kish=1.0, n_eff=None)


TOWNS = {"A": (0.90, 0.030, 100), "B": (0.95, 0.025, 80), "C": (0.85, 0.040, 90), "D": (0.93, 0.030, 70),
         "E": (0.88, 0.035, 85), "F": (0.97, 0.020, 75), "G": (1.0, 0.0, 30)}


def test_psi_is_a_generalized_variance_from_pooled_quantities() -> None:
    """psi_d = deff p(1-p)/n_d: p the county's, deff pooled over the townships inside (0, 1)."""
    towns = [share(t, *v) for t, v in TOWNS.items()]
    inside = [v for v in TOWNS.values() if 0 < v[0] < 1]
    deff = sum(se**2 * n for _, se, n in inside) / sum(p * (1 - p) for p, _, _ in inside)
    np.testing.assert_allclose(smoothed_psi(towns, 0.92), [deff * 0.92 * 0.08 / n for _, _, n in TOWNS.values()],
                               rtol=1e-12)


def test_a_township_at_100_percent_is_shrunk_with_an_error_like_its_neighbours() -> None:
    """Its own SE of 0 is not its sampling variance: it must not keep its 100% with MSE 0 (gamma = 1)
    and top the ranking, and with the smallest n it is shrunk the most."""
    towns = [share(t, *v) for t, v in TOWNS.items()] + [share(COUNTY, 0.92, 0.01, 530)]
    rows, _ = small_area(towns, None)
    got = {r.stratum: r for r in rows}
    g = got["G"]
    assert g.eblup < 1 and g.mse == max(r.mse for r in rows)  # the smallest n: the largest psi
    assert max(rows, key=lambda r: r.eblup).stratum == "F"


def test_scores_pool_the_mean_unit_variance() -> None:
    scores = [Estimate(period="P", stratum=t, index="s", kind="score", n=n, estimate=80.0, se=se, ci_low=None,
                       ci_high=None, deff=None, deff_kish=1.0, n_eff=None)
              for t, se, n in (("A", 2.0, 100), ("B", 3.0, 50), ("C", 0.0, 40))]
    kappa = (4.0 * 100 + 9.0 * 50 + 0.0) / 3
    np.testing.assert_allclose(smoothed_psi(scores, None), [kappa / 100, kappa / 50, kappa / 40], rtol=1e-12)
