"""Index estimates: composites, don't-know handling, not-estimable domains, df, design effects."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import SPEC_DICT, margins_of, survey_frames

from analysis.output import csv_rows, to_json, write_csv
from analysis.pipeline import Options, run_analysis
from analysis.results import COUNTY, Estimate
from analysis.spec import parse_spec

BY = ("age_group", "sex")


def estimates(responses: pd.DataFrame, cells: pd.DataFrame, indices: dict[str, object],
              **options: object) -> dict[tuple[str, str], Estimate]:
    options = {"method": "poststratify", **options}  # the cells' own post-strata, as the expected values assume
    run = run_analysis(responses, cells, parse_spec({"indices": indices}), Options(by=BY, **options))  # type: ignore[arg-type]
    return {(e.stratum, e.index): e for e in run.result.estimates}


SAFETY = SPEC_DICT["indices"]["safety"]
POLICE = SPEC_DICT["indices"]["police"]


def test_a_composite_of_an_index_with_itself_is_that_index() -> None:
    responses, cells = survey_frames()
    got = estimates(responses, cells, {"a": SAFETY, "b": SAFETY,
                                       "ab": {"kind": "composite", "components": {"a": 3, "b": 1}}})
    for stratum in ("A", "B", "C", COUNTY):
        one, both = got[(stratum, "a")], got[(stratum, "ab")]
        assert both.estimate == pytest.approx(one.estimate, rel=1e-13)
        assert both.se == pytest.approx(one.se, rel=1e-12)
        assert (both.ci_low, both.ci_high) == pytest.approx((one.ci_low, one.ci_high), rel=1e-12)
        assert both.kind == "share" and both.deff is None


def test_a_composite_is_the_weighted_sum_and_its_se_obeys_cauchy_schwarz() -> None:
    responses, cells = survey_frames(seed=2)
    got = estimates(responses, cells, {"s": SAFETY, "p": POLICE,
                                       "sp": {"kind": "composite", "components": {"s": 1, "p": 3}}})
    for stratum in ("A", "B", "C", COUNTY):
        s, p, sp = got[(stratum, "s")], got[(stratum, "p")], got[(stratum, "sp")]
        assert sp.estimate == pytest.approx(0.25 * s.estimate + 0.75 * p.estimate, rel=1e-13)
        assert abs(0.25 * s.se - 0.75 * p.se) <= sp.se <= 0.25 * s.se + 0.75 * p.se
        assert sp.n >= max(s.n, p.n)


def test_an_all_dont_know_township_is_not_estimable_but_the_county_is() -> None:
    responses, cells = survey_frames()
    responses.loc[responses.township == "C", "q_safety"] = 8
    run = run_analysis(responses, cells, parse_spec({"indices": {"safety": SAFETY}}), Options(by=BY))
    got = {e.stratum: e for e in run.result.estimates}
    c = got["C"]
    assert (c.n, c.estimate, c.se, c.ci_low, c.ci_high, c.ci_method) == (0, None, None, None, None, "not estimable")
    assert c.dk_rate == pytest.approx(1.0)
    assert got[COUNTY].estimate is not None and got[COUNTY].df == got[COUNTY].n - 2
    assert "period 1: safety not estimable in C (n=0)" in run.result.flags
    assert [r.stratum for r in run.result.ranks] == ["A", "B"]


def test_one_valid_answer_is_not_estimable() -> None:
    responses, cells = survey_frames()
    in_c = responses.index[responses.township == "C"]
    responses.loc[in_c[1:], "q_safety"] = 9
    got = estimates(responses, cells, {"safety": SAFETY})
    assert got[("C", "safety")].n == 1 and got[("C", "safety")].estimate is None


def test_an_estimate_of_zero_gets_a_fallback_interval_not_a_point() -> None:
    responses, cells = survey_frames()
    in_b = (responses.township == "B") & ~responses.q_safety.isin([8, 9])
    responses.loc[in_b, "q_safety"] = 5
    got = estimates(responses, cells, {"safety": SAFETY, "score": SPEC_DICT["indices"]["safety_score"]})
    share, score = got[("B", "safety")], got[("B", "score")]
    assert (share.estimate, share.se, share.ci_low) == (0.0, 0.0, 0.0)
    assert 0 < share.ci_high < 0.1 and share.ci_method == "kg-range (se=0)"
    assert share.n_eff == pytest.approx(share.n / share.deff_kish)
    assert score.estimate == 0.0 and score.ci_low == 0.0 and 0 < score.ci_high < 10


def test_degrees_of_freedom_and_kish_design_effect() -> None:
    responses, cells = survey_frames()
    run = run_analysis(responses, cells, parse_spec({"indices": {"safety": SAFETY}}), Options(by=BY))
    got = {e.stratum: e for e in run.result.estimates}
    out = responses.merge(run.weights, on="id")
    valid = ~out.q_safety.isin([8, 9])
    for town in ("A", "B", "C"):
        w = out.weight[valid & (out.township == town)]
        assert got[town].df == got[town].n - 1 == len(w) - 1
        assert got[town].deff_kish == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2, rel=1e-12)
        assert got[town].n_eff == pytest.approx(got[town].estimate * (1 - got[town].estimate) / got[town].se**2)
    assert got[COUNTY].df == valid.sum() - 3


def test_score_index_is_the_weighted_mean_score() -> None:
    responses, cells = survey_frames()
    run = run_analysis(responses, cells, parse_spec({"indices": {"score": SPEC_DICT["indices"]["safety_score"]}}),
                       Options(by=BY))
    out = responses.merge(run.weights, on="id")
    valid = out[~out.q_safety.isin([8, 9])]
    points = valid.q_safety.map({1: 100, 2: 80, 3: 60, 4: 40, 5: 0})
    county = next(e for e in run.result.estimates if e.stratum == COUNTY)
    assert county.estimate == pytest.approx(np.average(points, weights=valid.weight), rel=1e-13)
    assert county.ci_method == "logit" and county.kind == "score"


def test_without_a_period_column_everything_is_one_period() -> None:
    responses, cells = survey_frames()
    got = estimates(responses.drop(columns="wave"), cells, {"safety": SAFETY})
    assert {e.period for e in got.values()} == {"all"}
    assert len(got) == 4


SCORE_75 = {"question": "q_safety", "kind": "score", "scores": {1: 100, 2: 75, 3: 55, 4: 30, 5: 0}, "exclude": [8, 9]}


@pytest.mark.parametrize(("method", "low", "high"), [("poststratify", 66.0377056167986, 82.62495810078121),
                                                     ("rake", 66.57544890703221, 82.23136551902917)])
def test_every_answer_alike_gets_the_fallback_not_a_rounding_noise_point(method: str, low: float,
                                                                          high: float) -> None:
    """Every valid answer in B scores 75. The variance is 0, but in floating point it came out as
    about 4e-16, which gave a zero-width 't' interval [75, 75] instead of the se = 0 fallback."""
    responses, cells = survey_frames(seed=2)
    responses.loc[(responses.township == "B") & ~responses.q_safety.isin([8, 9]), "q_safety"] = 2
    population = cells if method == "poststratify" else margins_of(cells)
    b = estimates(responses, population, {"score": SCORE_75}, method=method)[("B", "score")]
    assert b.estimate == pytest.approx(75.0, rel=1e-14)
    assert b.se == 0.0 and b.ci_method == "kg-range (se=0)" and b.n_eff == pytest.approx(b.n / b.deff_kish)
    assert (b.ci_low, b.ci_high) == pytest.approx((low, high), rel=1e-9)


def test_a_composite_that_is_not_estimable_still_reports_its_respondents() -> None:
    """Police has one valid answer in C: the composite is not estimable there, and its n is the
    number of respondents with a valid answer to a component (108), not a placeholder 1."""
    responses, cells = survey_frames()
    in_c = responses.index[responses.township == "C"]
    responses.loc[in_c, "q_police"] = 8
    responses.loc[in_c[0], "q_police"] = 1
    got = estimates(responses, cells, {"safety": SAFETY, "police": POLICE,
                                       "sp": {"kind": "composite", "components": {"safety": 1, "police": 1}}})
    c = got[("C", "sp")]
    valid = responses.loc[in_c]
    assert c.n == int((~valid.q_safety.isin([8, 9]) | (valid.q_police != 8)).sum()) == 108
    assert (c.estimate, c.se, c.ci_low, c.ci_method) == (None, None, None, "not estimable")
    assert got[("C", "police")].n == 1 and got[(COUNTY, "sp")].estimate is not None


def test_a_township_enumerated_completely_has_no_sampling_error() -> None:
    """n_h = N_h: the fpc is 0, so the SE is 0 and the interval is the estimate itself ('census'),
    not the se = 0 fallback meant for estimates of 0 or 1."""
    towns = {"A": (20_000, 200), "B": (8_000, 150), "C": (120, 120)}
    responses, cells = survey_frames(towns=towns)
    cells.loc[cells.township == "C", "N"] *= 120 / cells.loc[cells.township == "C", "N"].sum()
    got = estimates(responses, cells, {"safety": SAFETY, "score": SPEC_DICT["indices"]["safety_score"]})
    for index in ("safety", "score"):
        c = got[("C", index)]
        assert c.se == 0.0 and c.ci_method == "census" and c.ci_low == c.ci_high == c.estimate
        assert got[(COUNTY, index)].se > 0 and got[(COUNTY, index)].ci_method in ("logit", "t")


@pytest.mark.parametrize("method", ["poststratify", "rake"])
@pytest.mark.parametrize("index", [SCORE_75, SAFETY])
def test_a_design_effect_of_answers_all_alike_is_undefined_not_zero(method: str, index: dict[str, object],
                                                                    tmp_path: Path) -> None:
    """s^2 = 0 makes R's deff a 0/0; after raking the score's s^2 came out as rounding noise and the
    design effect as 0.0. Undefined is None in the result, empty in the CSV and null in the JSON."""
    responses, cells = survey_frames(seed=2)
    responses.loc[(responses.township == "B") & ~responses.q_safety.isin([8, 9]), "q_safety"] = 2
    population = cells if method == "poststratify" else margins_of(cells)
    run = run_analysis(responses, population, parse_spec({"indices": {"x": index}}), Options(by=BY, method=method))
    b = next(e for e in run.result.estimates if e.stratum == "B")
    assert b.estimate is not None and b.se == 0.0 and b.deff is None
    assert next(e for e in run.result.estimates if e.stratum == "A").deff is not None
    write_csv(run.result, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["stratum"] == "B")
    assert row["deff"] == "" and row["estimate"] != ""
    assert next(r for r in csv_rows(run.result) if r["stratum"] == "B")["deff"] is None
    estimates_json = json.loads(to_json(run.result))["estimates"]
    assert next(e for e in estimates_json if e["stratum"] == "B")["deff"] is None


def test_a_township_without_respondents_is_named_as_left_out_of_the_county_row(tmp_path: Path) -> None:
    """The county row covers the sampled townships only: the result records which township it leaves out
    and that township's share of the population; the CSV and the console summary say so on the county row."""
    from io import StringIO

    from rich.console import Console

    from analysis.output import print_summary

    responses, cells = survey_frames()
    run = run_analysis(responses.loc[responses.township != "C"], cells, parse_spec({"indices": {"safety": SAFETY}}),
                       Options(by=BY))
    totals = cells.groupby("township")["N"].sum()
    [left_out] = run.result.unsampled
    assert left_out.stratum == "C" and left_out.population == pytest.approx(totals["C"])
    assert left_out.share == pytest.approx(totals["C"] / totals.sum())
    county = next(r for r in csv_rows(run.result) if r["stratum"] == COUNTY)
    assert county["left_out"] == "C" and county["population_covered"] == pytest.approx(1 - left_out.share)
    assert next(r for r in csv_rows(run.result) if r["stratum"] == "A")["left_out"] is None
    assert json.loads(to_json(run.result))["unsampled"] == [
        {"period": left_out.period, "stratum": "C", "population": left_out.population, "share": left_out.share}]
    out = StringIO()
    print_summary(run.result, Console(file=out, width=200))
    assert f"{COUNTY} †" in out.getvalue()
    assert f"leaves out 1 township with no respondents: C ({100 * left_out.share:.1f}% of the population)" \
        in out.getvalue()


def test_a_fully_sampled_county_row_leaves_nothing_out() -> None:
    responses, cells = survey_frames()
    run = run_analysis(responses, cells, parse_spec({"indices": {"safety": SAFETY}}), Options(by=BY))
    assert run.result.unsampled == []
    county = next(r for r in csv_rows(run.result) if r["stratum"] == COUNTY)
    assert (county["population_covered"], county["left_out"]) == (1.0, None)
