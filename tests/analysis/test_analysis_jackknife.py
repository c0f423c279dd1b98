"""Jackknife replicate variances and the county calibration, checked against R survey and by hand.

R numbers: tests/analysis/r/jackknife.R (JKn replicates with mse=TRUE, each replicate post-stratified,
raked or calibrated again; calibrate() to township totals and the county's age x sex cells).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import FIXTURES, SPEC_DICT, survey_frames

from analysis.flatfile import read_csv_strings
from analysis.pipeline import Options, run_analysis
from analysis.results import COUNTY, AnalysisMethod
from analysis.spec import Spec, parse_spec

DATA = FIXTURES / "r"
BY = ("age_group", "sex")
RTOL = 1e-8
DESIGNS = {
    "ps-jk": ("cells", Options(by=BY, method="poststratify", variance="jackknife")),
    "rake-jk": ("margins", Options(by=BY, method="rake", variance="jackknife")),
    "county": ("cells", Options(by=BY, method="county", variance="linear")),
    "county-jk": ("cells", Options(by=BY, method="county", variance="jackknife")),
}


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(DATA / "jackknife.csv", dtype={"period": str, "stratum": str})


@pytest.mark.parametrize("design", list(DESIGNS))
def test_estimates_and_ses_match_r(spec: Spec, expected: pd.DataFrame, design: str) -> None:
    population, options = DESIGNS[design]
    run = run_analysis(read_csv_strings(DATA / "responses.csv"), read_csv_strings(DATA / f"{population}.csv"),
                       spec, options)
    got = pd.DataFrame([asdict(e) for e in run.result.estimates])
    mine = expected[expected.design == design]
    merged = mine.merge(got, on=["period", "stratum", "index"], suffixes=("_r", ""), validate="one_to_one")
    assert len(merged) == len(mine) == 2 * 7 * 3
    np.testing.assert_allclose(merged.estimate, merged.estimate_r, rtol=RTOL)
    np.testing.assert_allclose(merged.se, merged.se_r, rtol=RTOL)
    assert run.result.method.variance == options.variance and run.result.method.weighting == options.method


def test_the_jackknife_of_a_post_stratified_mean_by_hand() -> None:
    """Replicate i: respondent i deleted and the cells post-stratified again, so i's cell weighs
    N_g/(n_g - 1) and the others N_g/n_g; V = (1 - f)(n - 1)/n sum_i (theta_i - theta)^2."""
    responses, cells = survey_frames(seed=5, towns={"A": (9_000, 160)})
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    options = Options(by=BY, method="poststratify", variance="jackknife")
    run = run_analysis(responses, cells, spec, options)
    assert not run.result.merges
    est = next(e for e in run.result.estimates if e.stratum == "A")
    valid = (~responses.q_safety.isin([8, 9])).to_numpy(dtype=float)
    y = responses.q_safety.isin([1, 2, 3]).to_numpy(dtype=float)
    cell = responses.age_group + "/" + responses.sex
    size = cell.map(cell.value_counts()).to_numpy(dtype=float)
    N_g = cell.map((cells.age_group + "/" + cells.sex).to_frame("c").assign(N=cells.N).set_index("c").N).to_numpy()
    n, N = len(responses), cells.N.sum()
    deviations = []
    for i in range(n):
        weight = N_g / (size - (cell == cell.iloc[i]).to_numpy())
        weight[i] = 0.0
        deviations.append((weight * valid * y).sum() / (weight * valid).sum() - est.estimate)
    assert est.se == pytest.approx(np.sqrt((1 - n / N) * (n - 1) / n * np.sum(np.square(deviations))), rel=1e-10)


def test_the_county_method_keeps_township_totals_and_county_cells() -> None:
    responses, cells = survey_frames(seed=3)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    run = run_analysis(responses, cells, spec, Options(by=BY))
    weights = responses.merge(run.weights, on="id")
    assert run.result.method.weighting == "county" and run.result.method.variance == "jackknife"
    by_town = weights.groupby("township").weight.sum()
    np.testing.assert_allclose(by_town.sort_index(), cells.groupby("township").N.sum().sort_index(), rtol=1e-9)
    by_cell = weights.groupby(["age_group", "sex"]).weight.sum()
    np.testing.assert_allclose(by_cell.sort_index(), cells.groupby(["age_group", "sex"]).N.sum().sort_index(),
                               rtol=1e-9)
    # the township's own age x sex mix is not forced: its cells do not all meet their counts
    a = weights[weights.township == "A"].groupby(["age_group", "sex"]).weight.sum().sort_index()
    target = cells[cells.township == "A"].set_index(["age_group", "sex"]).N.sort_index()
    assert not np.allclose(a.to_numpy(), target.to_numpy(), rtol=1e-3)


def test_a_thin_county_cell_is_merged_and_named() -> None:
    responses, cells = survey_frames(seed=4)
    thin = (responses.age_group == "18-29") & (responses.sex == "M")
    responses = responses.drop(responses.index[thin][3:]).reset_index(drop=True)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    run = run_analysis(responses, cells, spec, Options(by=BY))
    merge = next(m for m in run.result.merges)
    assert merge.stratum == COUNTY and merge.levels == ("18-29", "30-44") and merge.within == "sex=M"
    assert merge.respondents[0] == 3 and merge.reasons[0] == "thin"


def test_trimming_falls_back_to_the_linearised_variance_and_says_so() -> None:
    from analysis.weights import TrimRule

    responses, cells = survey_frames(seed=3)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    run = run_analysis(responses, cells, spec, Options(by=BY, method="rake", trim=TrimRule(upper=3.0)))
    assert run.result.method.variance == "linear"
    assert any("linearised variance" in line for line in run.result.log)


def test_the_method_text_names_what_was_done() -> None:
    responses, cells = survey_frames(seed=3)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    method = run_analysis(responses, cells, spec, Options(by=BY)).result.method
    assert "jackknife" in method.text("en") and "county" in method.text("en")
    assert "刀切" in method.text("zh") and method.text("zh").endswith("。")
    assert "logit-transformed for percentages and for scores rescaled to their range" in method.text("en")
    assert "比例及按量程换算到0–1的得分用logit变换" in method.text("zh")


@pytest.mark.parametrize(("ci", "score_ci", "said", "unsaid"), [
    ("logit", "t", "95% intervals: logit-transformed for percentages, t quantiles", "score"),
    ("kg", "logit", "95% intervals for scores: logit-transformed on the score rescaled to its range", "percentage"),
    ("wilson", "t", "", "logit"),
])
def test_the_method_text_says_which_intervals_are_logit(ci: str, score_ci: str, said: str, unsaid: str) -> None:
    text = AnalysisMethod(ci=ci, score_ci=score_ci).text("en")
    assert said in text and unsaid not in text


def test_townships_of_one_respondent_each_have_no_replicates_and_no_crash() -> None:
    responses, cells = survey_frames(seed=3)
    one_each = responses.groupby("township").head(1).reset_index(drop=True)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    run = run_analysis(one_each, cells, spec, Options(by=BY))
    assert all(e.n <= 3 for e in run.result.estimates) and run.result.method.variance == "jackknife"


def test_a_county_level_nobody_answered_is_an_error_when_collapsing_is_off() -> None:
    from analysis_helpers import margins_of

    from analysis.errors import WeightingError
    from analysis.weights import CollapseRule

    responses, cells = survey_frames(seed=3)
    responses = responses[responses.age_group != "18-29"].reset_index(drop=True)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    with pytest.raises(WeightingError, match="county: nobody at age_group=18-29"):
        run_analysis(responses, margins_of(cells), spec, Options(by=BY, method="county",
                                                                 collapse=CollapseRule(enabled=False)))


def test_the_console_summary_names_the_method() -> None:
    from rich.console import Console

    from analysis.output import print_summary

    responses, cells = survey_frames(seed=3)
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    console = Console(record=True, width=200)
    print_summary(run_analysis(responses, cells, spec, Options(by=BY)).result, console)
    assert ("weighting county, jackknife standard errors, logit intervals for shares, logit for scores"
            in console.export_text())
