"""Groups of townships (counties of a province), the block-wise variance and SAE, and fast input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import margins_of, survey_frames
from test_analysis_cli import SPEC, app
from typer.testing import CliRunner

from analysis.errors import InputError
from analysis.output import print_summary
from analysis.pipeline import Options, run_analysis
from analysis.population import Population
from analysis.results import ALL, COUNTY, GROUP, STRATUM, Estimate
from analysis.sae import _fisher_step
from analysis.spec import Spec
from analysis.variance import Residualiser
from analysis.weights import WeightingOptions, build_grid, calibrate, design

TOWNS = {"A": (20_000, 200), "B": (8_000, 150), "C": (3_000, 120), "D": (12_000, 90), "E": (5_000, 60)}
COUNTIES = {"A": "X", "B": "X", "C": "Y", "D": "Y", "E": "Y"}
OPTIONS = Options(by=("age_group", "sex"), method="rake")


@pytest.fixture(scope="module")
def province() -> tuple[pd.DataFrame, pd.DataFrame]:
    responses, cells = survey_frames(seed=11, towns=TOWNS, waves=("1", "2"))
    return responses.assign(county=responses.township.map(COUNTIES)), margins_of(cells)


def by_key(estimates: list[Estimate]) -> dict[tuple[str, str, str], Estimate]:
    return {(e.period, e.stratum, e.index): e for e in estimates}


def test_a_county_is_the_whole_file_of_its_own_townships(province: tuple[pd.DataFrame, pd.DataFrame],
                                                         spec: Spec) -> None:
    """Weights and strata lie within townships, so a county's estimate, SE, CI and df are those of a
    run on its townships alone, where it is the whole file."""
    responses, margins = province
    grouped = run_analysis(responses, margins, spec, Options(by=OPTIONS.by, method="rake", group="county"))
    got = by_key(grouped.result.estimates)
    for county in ("X", "Y"):
        towns = [t for t, c in COUNTIES.items() if c == county]
        alone = run_analysis(responses[responses.county == county], margins[margins.township.isin(towns)], spec,
                             OPTIONS)
        for e in alone.result.estimates:
            if e.stratum != COUNTY:
                continue
            mine = got[(e.period, f"county:{county}", e.index)]
            assert mine.level == GROUP and mine.n == e.n and mine.df == e.df and mine.ci_method == e.ci_method
            for field in ("estimate", "se", "ci_low", "ci_high", "deff", "deff_kish", "n_eff", "dk_rate"):
                # jackknife variances sum squared differences of near-equal replicate estimates: 1e-11 rounding
                assert getattr(mine, field) == pytest.approx(getattr(e, field), rel=1e-10), field


def test_groups_leave_the_township_and_whole_file_rows_as_they_were(
        province: tuple[pd.DataFrame, pd.DataFrame], spec: Spec) -> None:
    responses, margins = province
    plain = run_analysis(responses, margins, spec, OPTIONS).result
    grouped = run_analysis(responses, margins, spec, Options(by=OPTIONS.by, method="rake", group="county")).result
    same = [e for e in grouped.estimates if e.level != GROUP]
    assert same == plain.estimates
    assert {e.level for e in grouped.estimates if e.stratum == COUNTY} == {ALL}
    assert [r for r in grouped.ranks if not r.stratum.startswith("county:")] == plain.ranks
    county_ranks = [r for r in grouped.ranks if r.stratum.startswith("county:")]
    assert sorted((r.period, r.index, r.rank) for r in county_ranks) == sorted(
        (p, i, k) for p in ("1", "2") for i in ("safety", "safety_score", "police") for k in (1, 2))
    assert grouped.small_area == plain.small_area
    assert {c.stratum for c in grouped.changes} == {"A", "B", "C", "D", "E", "county:X", "county:Y", COUNTY}


def test_a_township_in_two_counties_is_an_input_error(province: tuple[pd.DataFrame, pd.DataFrame],
                                                      spec: Spec) -> None:
    responses, margins = province
    moved = responses.copy()
    row = int(np.flatnonzero(moved.township == "B")[3])
    moved.loc[row, "county"] = "Y"
    with pytest.raises(InputError, match="township 'B' is in county 'X' on an earlier row and in 'Y' here"):
        run_analysis(moved, margins, spec, Options(by=OPTIONS.by, method="rake", group="county"))


def test_the_block_inverse_is_the_dense_least_squares_fit_on_a_random_design() -> None:
    """Many townships of unequal size, thin levels merged: the residuals equal the dense fit to 1e-12."""
    rng = np.random.default_rng(5)
    towns = {f"T{h:02d}": (int(rng.integers(2_000, 30_000)), int(rng.integers(12, 80))) for h in range(15)}
    responses, cells = survey_frames(seed=9, towns=towns)
    population = Population.from_frame(margins_of(cells), "township", ("age_group", "sex"))
    stratum, labels = pd.factorize(responses.township, sort=True)
    codes = tuple(pd.Index(population.levels[v]).get_indexer(responses[v]) for v in ("age_group", "sex"))
    order = np.lexsort((codes[0] * 2 + codes[1], stratum))
    responses, stratum, codes = responses.iloc[order].reset_index(drop=True), stratum[order], tuple(
        c[order] for c in codes)
    plan = design(stratum, np.asarray(labels, dtype=object), population.margin_targets().totals)
    grid = build_grid(plan.stratum, plan.labels, ("age_group", "sex"),
                      tuple(population.levels[v] for v in ("age_group", "sex")), codes)
    calibration = calibrate(plan, grid, population, WeightingOptions(method="rake"))
    x = np.column_stack([(calibration.groupings[k].ids[calibration.cells.ids] == j)
                         for k in range(2) for j in range(calibration.groupings[k].size)]).astype(float)
    u = rng.normal(size=(len(responses), 4))
    root = np.sqrt(plan.base)[:, None]
    beta = np.linalg.lstsq(x * root, u * root, rcond=None)[0]
    np.testing.assert_allclose(Residualiser(calibration)(u), u - x @ beta, atol=1e-12)


def test_the_fisher_step_without_the_area_matrix_is_the_dense_one() -> None:
    rng = np.random.default_rng(2)
    m = 40
    y, psi = rng.normal(0.6, 0.1, m), rng.uniform(0.001, 0.01, m)
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    sigma2 = 0.004
    v = np.diag(1 / (sigma2 + psi))
    p = v - v @ x @ np.linalg.inv(x.T @ v @ x) @ x.T @ v
    dense = (-0.5 * np.trace(p) + 0.5 * y @ p @ p @ y) / (0.5 * np.trace(p @ p))
    assert _fisher_step(y, psi, x, sigma2) == pytest.approx(dense, rel=1e-12)


def test_a_large_run_prints_a_summary(province: tuple[pd.DataFrame, pd.DataFrame], spec: Spec,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    responses, margins = province
    result = run_analysis(responses, margins, spec, Options(by=OPTIONS.by, method="rake", group="county")).result
    monkeypatch.setattr("analysis.output.SUMMARY_STRATA", 3)
    print_summary(result, full_table=Path("every.csv"))
    out = capsys.readouterr().out
    assert "county:X" in out and "5 townships not shown; every row is in every.csv" in out
    assert "│ A " not in out
    assert {e.level for e in result.estimates} == {STRATUM, GROUP, ALL}


def test_parquet_and_csv_input_give_the_same_results(tmp_path: Path,
                                                     province: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    pytest.importorskip("pyarrow")
    responses, margins = province
    responses.to_csv(tmp_path / "responses.csv", index=False)
    responses.to_parquet(tmp_path / "responses.parquet", index=False)
    margins.to_csv(tmp_path / "margins.csv", index=False)
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    tables = []
    for name in ("responses.csv", "responses.parquet"):
        out = tmp_path / f"{name}.out.csv"
        result = CliRunner().invoke(app(), ["analyze", str(tmp_path / name), "--spec", str(tmp_path / "spec.yaml"),
                                            "--population", str(tmp_path / "margins.csv"), "--group", "county",
                                            "--csv", str(out)])
        assert result.exit_code == 0, result.output
        with out.open(encoding="utf-8") as handle:
            tables.append(list(csv.DictReader(handle)))
    assert tables[0] == tables[1]
    assert {r["stratum"] for r in tables[0] if r["level"] == GROUP} == {"county:X", "county:Y"}


def test_a_parquet_file_names_the_row_of_a_problem(tmp_path: Path,
                                                   province: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    pytest.importorskip("pyarrow")
    from analysis.flatfile import read_responses
    from analysis.responses import ResponseColumns

    responses = province[0].copy()
    responses.loc[7, "township"] = " "
    responses.to_parquet(tmp_path / "r.parquet", index=False)
    with pytest.raises(InputError, match="r.parquet, column 'township': row 7: is blank"):
        read_responses(tmp_path / "r.parquet", ResponseColumns(("q_safety",), ("age_group", "sex")))


def test_chunked_rank_sets_equal_every_pair_tested_one_by_one() -> None:
    """Across chunk boundaries, with logit-scale shares, shares at 0 and 1 (linear scale, the SE
    their interval implies) and a unit without any variance to test with."""
    from scipy import special

    from analysis.intervals import Z
    from analysis.rank_sets import CHUNK, Comparison, rank_sets

    rng = np.random.default_rng(4)
    h = 2 * CHUNK + 37
    est = np.r_[rng.uniform(0.4, 0.95, h - 5), 1.0, 1.0, 0.0, 0.6, 1.0]
    se = np.r_[rng.uniform(0.01, 0.05, h - 5), 0.0, 0.0, 0.0, 0.03, 0.0]
    df = np.r_[rng.integers(20, 80, h - 1).astype(float), np.inf]
    ci_low, ci_high = np.full(h, np.nan), np.full(h, np.nan)
    ci_low[h - 5:h - 2], ci_high[h - 5:h - 2] = [0.9, 0.93, 0.0], [1.0, 1.0, 0.08]
    units = Comparison.of("share", est, se, df, census=np.zeros(h, dtype=bool), ci_low=ci_low, ci_high=ci_high)
    low, high = rank_sets(units)
    crit = special.stdtrit(df, 1 - 0.05 / (h * (h - 1)))
    on_logit = (est > 0) & (est < 1) & (se > 0)
    lin_var = np.where(se > 0, se**2, ((ci_high - ci_low) / (2 * Z)) ** 2)
    lin_var[-1] = np.inf
    above, below = np.zeros(h, int), np.zeros(h, int)
    with np.errstate(divide="ignore", invalid="ignore"):
        logit, logit_se = special.logit(est), se / (est * (1 - est))
        for k in range(h):  # row k against every j, one scale per pair
            both = on_logit & on_logit[k]
            d = np.where(both, logit - logit[k], est - est[k])
            v = np.where(both, logit_se**2 + logit_se[k] ** 2, lin_var + lin_var[k])
            significant = np.abs(d) > np.maximum(crit, crit[k]) * np.sqrt(v)
            above[k], below[k] = np.sum(significant & (d > 0)), np.sum(significant & (d < 0))
    np.testing.assert_array_equal(low, 1 + above)
    np.testing.assert_array_equal(high, h - below)
    assert (low[-1], high[-1]) == (1, h)  # nothing to test it with
    assert h - high[h - 5] <= np.sum(est <= 0.9)  # a share of 1 is not above all others for want of variance
