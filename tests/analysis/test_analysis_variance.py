"""Linearised variance after calibration: textbook reductions and the exact projection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import margins_of, survey_frames

from analysis.pipeline import Options, run_analysis
from analysis.population import Population
from analysis.spec import Spec, parse_spec
from analysis.variance import Residualiser
from analysis.weights import WeightingOptions, build_grid, calibrate, design

SHARE = parse_spec({"indices": {"fav": {"question": "q", "kind": "share", "favourable": [1]}}})


def one_township(seed: int, n: int, size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cells = pd.DataFrame({"township": "A", "age_group": ["y", "y", "o", "o"], "sex": ["M", "F", "M", "F"],
                          "N": [size * s for s in (0.2, 0.25, 0.3, 0.25)]})
    picks = rng.choice(4, size=n, p=[0.1, 0.3, 0.35, 0.25])
    responses = pd.DataFrame({"id": range(n), "township": "A", "age_group": cells.age_group.to_numpy()[picks],
                              "sex": cells.sex.to_numpy()[picks], "q": rng.integers(1, 3, n)})
    return responses, cells


def test_poststratified_township_variance_is_the_cell_formula() -> None:
    """V = (1-f) n/(n-1) sum_g W_g^2 s_g^2 (n_g-1)/n_g^2 for a post-stratified mean of a whole township."""
    responses, cells = one_township(seed=2, n=90, size=1000)
    options = Options(by=("age_group", "sex"), method="poststratify", variance="linear")
    est = run_analysis(responses, cells, SHARE, options).result.estimates[0]
    n, N = len(responses), cells.N.sum()
    y = (responses.q == 1).astype(float)
    total = 0.0
    for (age, sex), block in responses.groupby(["age_group", "sex"]):
        W = cells.set_index(["age_group", "sex"]).N[(age, sex)] / N
        n_g = len(block)
        total += W**2 * y[block.index].var(ddof=1) * (n_g - 1) / n_g**2
    assert est.se**2 == pytest.approx((1 - n / N) * n / (n - 1) * total, rel=1e-12)


def test_base_weights_only_give_the_srswor_variance() -> None:
    responses, cells = one_township(seed=3, n=60, size=400)
    totals = pd.DataFrame({"township": ["A"], "N": [cells.N.sum()]})
    est = run_analysis(responses, totals, SHARE, Options(by=())).result.estimates[0]
    y = (responses.q == 1).astype(float)
    n, N = len(y), cells.N.sum()
    assert est.estimate == pytest.approx(y.mean(), rel=1e-14)
    assert est.se**2 == pytest.approx((1 - n / N) * y.var(ddof=1) / n, rel=1e-12)
    assert est.deff == pytest.approx(1.0, rel=1e-12)


def test_the_exact_projection_is_the_weighted_least_squares_residual(spec: Spec) -> None:
    responses, cells = survey_frames(seed=7)
    population = Population.from_frame(margins_of(cells), "township", ("age_group", "sex"))
    stratum, labels = pd.factorize(responses.township, sort=True)
    codes = tuple(pd.Index(population.levels[v]).get_indexer(responses[v]) for v in ("age_group", "sex"))
    order = np.lexsort((codes[0] * 2 + codes[1], stratum))
    responses = responses.iloc[order].reset_index(drop=True)
    stratum, codes = stratum[order], tuple(c[order] for c in codes)
    plan = design(stratum, np.asarray(labels, dtype=object), population.margin_targets().totals)
    grid = build_grid(plan.stratum, plan.labels, ("age_group", "sex"),
                      tuple(population.levels[v] for v in ("age_group", "sex")), codes)
    calibration = calibrate(plan, grid, population, WeightingOptions(method="rake"))
    u = np.random.default_rng(0).normal(size=(len(responses), 3))
    x = pd.get_dummies(responses.township + ":" + responses.age_group).join(
        pd.get_dummies(responses.township + ":" + responses.sex)).to_numpy(dtype=float)
    root = np.sqrt(plan.base)[:, None]
    beta = np.linalg.lstsq(x * root, u * root, rcond=None)[0]
    np.testing.assert_allclose(Residualiser(calibration)(u), u - x @ beta, atol=1e-12)
    sweeps = Residualiser(calibration, "rake-sweeps")(u)
    np.testing.assert_allclose(sweeps, u - x @ beta, atol=1e-8)


def test_dont_know_answers_stay_in_the_weighting_base() -> None:
    """Turning answers into "don't know" changes neither the weights nor the other respondents'
    calibration cells: the estimate is the mean over the remaining valid answers."""
    responses, cells = one_township(seed=4, n=80, size=900)
    spec = parse_spec({"indices": {"fav": {"question": "q", "kind": "share", "favourable": [1], "exclude": [8]}}})
    with_dk = responses.assign(q=np.where(np.arange(80) % 5 == 0, 8, responses.q))
    plain = run_analysis(responses, cells, spec, Options(by=("age_group", "sex")))
    dk = run_analysis(with_dk, cells, spec, Options(by=("age_group", "sex")))
    pd.testing.assert_frame_equal(plain.weights, dk.weights)
    est = dk.result.estimates[0]
    w = dk.weights.set_index("id").weight
    ids = with_dk.id.astype(str)
    valid = with_dk.q != 8
    assert est.n == valid.sum()
    assert est.estimate == pytest.approx(np.average(with_dk.q[valid] == 1, weights=w[ids[valid]]), rel=1e-14)
    assert est.dk_rate == pytest.approx(w[ids[~valid]].sum() / w.sum(), rel=1e-14)
