"""``--method county``'s linearised variance by block elimination (analysis.pooled_variance) against
the whole-matrix computation it replaced: respondents x domains influence values, one weighted
least-squares fit on every calibration group at once (townships and pooled groups; or R rake()'s
sweeps over them) and the stratified formula, for every township, county and the whole file and
for every township's and county's difference from the whole file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import margins_of, survey_frames

from analysis.estimates import LINEAR, Rollup, estimate_period
from analysis.indices import ItemValues
from analysis.pooled_variance import PooledFit
from analysis.population import Population
from analysis.results import ALL, GROUP, STRATUM
from analysis.spec import parse_spec
from analysis.variance import Residualiser, within_townships
from analysis.weights import WeightingOptions, build_grid, calibrate, design
from analysis.weights.calibrate import Calibration

BY = ("age_group", "sex")
SPEC = parse_spec({"indices": {
    "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
    "score": {"question": "q_safety", "kind": "score", "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0},
              "exclude": [8, 9]}}})
SCORES = {1: 100.0, 2: 80.0, 3: 60.0, 4: 40.0, 5: 0.0}


def county_file(population: str) -> tuple[pd.DataFrame, Calibration, Rollup]:
    """Eleven townships of 15-70 respondents in three counties, calibrated with ``--method county``."""
    rng = np.random.default_rng(21)
    towns = {f"T{h:02d}": (int(rng.integers(2_000, 30_000)), int(rng.integers(15, 70))) for h in range(11)}
    responses, cells = survey_frames(seed=17, towns=towns)
    frame = cells if population == "cells" else margins_of(cells)
    found = Population.from_frame(frame, "township", BY)
    stratum, labels = pd.factorize(responses.township, sort=True)
    codes = tuple(pd.Index(found.levels[v]).get_indexer(responses[v]) for v in BY)
    order = np.lexsort((codes[0] * 2 + codes[1], stratum))
    responses = responses.iloc[order].reset_index(drop=True)
    stratum, codes = stratum[order], tuple(c[order] for c in codes)
    plan = design(stratum, np.asarray(labels, dtype=object), found.margin_targets().totals)
    grid = build_grid(plan.stratum, plan.labels, BY, tuple(found.levels[v] for v in BY), codes)
    calibration = calibrate(plan, grid, found, WeightingOptions(method="county"))
    county_of = np.array([int(t[1:]) % 3 for t in plan.labels], dtype=np.intp)
    return responses, calibration, Rollup(county_of, ("county:0", "county:1", "county:2"))


def whole_matrix_variances(calibration: Calibration, rollup: Rollup, y: np.ndarray, valid: np.ndarray,
                           projection: str) -> tuple[np.ndarray, np.ndarray]:
    """Per domain (townships, counties, whole file): the variance and, for townships and counties,
    the variance of the difference from the whole file, from respondents x domains matrices."""
    design_ = calibration.design
    w, town = calibration.weights, design_.stratum
    member = np.column_stack([town == h for h in range(design_.n.size)]
                             + [rollup.group_of[town] == g for g in range(len(rollup.labels))]
                             + [np.ones(town.size, dtype=bool)]).astype(float)
    estimate = (member * (w * valid * y)[:, None]).sum(0) / (member * (w * valid)[:, None]).sum(0)
    total = (member * (w * valid)[:, None]).sum(0)
    u = member * (valid[:, None] * (y[:, None] - estimate[None, :])) / total[None, :]
    u = np.hstack([u, u[:, :-1] - u[:, -1:]])
    z = w[:, None] * whole_matrix_residuals(calibration, u, projection)
    n, fpc = design_.n.astype(float), design_.fpc
    variance = np.zeros(z.shape[1])
    for h in range(n.size):
        block = z[town == h]
        variance += fpc[h] * n[h] / (n[h] - 1) * ((block - block.mean(0)) ** 2).sum(0)
    domains = member.shape[1]
    return variance[:domains], variance[domains:]


@pytest.mark.parametrize("population", ["cells", "margins"])
@pytest.mark.parametrize("projection", ["exact", "rake-sweeps"])
def test_block_elimination_gives_the_whole_matrix_variances(population: str, projection: str) -> None:
    responses, calibration, rollup = county_file(population)
    assert not within_townships(calibration) and len(calibration.groupings) == (2 if population == "cells" else 3)
    answer = responses.q_safety.to_numpy()
    valid = ~np.isin(answer, [8, 9])
    items = {"safety": ItemValues(np.isin(answer, [1, 2, 3]) * 1.0, valid, 0.0, 1.0),
             "score": ItemValues(np.array([SCORES.get(a, 0.0) for a in answer]), valid, 0.0, 100.0)}
    found = estimate_period("1", calibration, items, SPEC.indices, projection=projection, rollup=rollup,
                            variance=LINEAR)
    towns = list(calibration.design.labels)
    for name, item in items.items():
        variance, apart = whole_matrix_variances(calibration, rollup, item.y, item.valid.astype(float), projection)
        rows = [e for e in found.estimates if e.index == name]
        assert [e.level for e in rows] == [STRATUM] * len(towns) + [GROUP] * 3 + [ALL]
        np.testing.assert_allclose([e.se for e in rows], np.sqrt(variance), rtol=1e-10)
        versus = [found.se_vs_county[(name, label)] for label in (*towns, *rollup.labels)]
        np.testing.assert_allclose(versus, np.sqrt(apart), rtol=1e-10)


@pytest.mark.parametrize("projection", ["exact", "rake-sweeps"])
def test_residuals_of_a_county_calibration_are_the_whole_matrix_ones(projection: str) -> None:
    """The residualiser on groups spanning townships: the G x G elimination, not the (H + G) square system."""
    responses, calibration, _ = county_file("margins")
    u = np.random.default_rng(4).normal(size=(len(responses), 3))
    expected = whole_matrix_residuals(calibration, u, projection)
    np.testing.assert_allclose(Residualiser(calibration, projection)(u), expected, atol=1e-12)


@pytest.mark.parametrize("sweeps", [1, 2, 3])
def test_a_few_sweeps_are_the_whole_matrix_sweeps(sweeps: int) -> None:
    """Far from convergence, where the townships' step and the pooled steps use different offsets."""
    responses, calibration, _ = county_file("margins")
    u = np.random.default_rng(6).normal(size=(len(responses), 2))
    cells = calibration.cells
    fitted = PooledFit(calibration, exact=False, sweeps=sweeps).fitted(cells.sum(u))[cells.ids]
    np.testing.assert_allclose(u - fitted, whole_matrix_residuals(calibration, u, "rake-sweeps", sweeps), atol=1e-12)


def whole_matrix_residuals(calibration: Calibration, u: np.ndarray, projection: str, sweeps: int = 10) -> np.ndarray:
    """u less its weighted least-squares fit on every calibration group's indicator (respondents x
    groups), or after R rake()'s sweeps of "subtract the group mean" over the groupings."""
    indicators = [np.column_stack([g.ids[calibration.cells.ids] == j for j in range(g.size)]).astype(float)
                  for g in calibration.groupings]
    if projection == "exact":
        x, root = np.hstack(indicators), np.sqrt(calibration.design.base)[:, None]
        return np.asarray(u - x @ np.linalg.lstsq(x * root, u * root, rcond=None)[0])
    e = u.copy()
    for _ in range(sweeps):
        for x in indicators:
            e -= x @ ((x.T @ e) / np.maximum(x.sum(0), 1.0)[:, None])
    return e
