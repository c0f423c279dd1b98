"""Design weights, post-stratification, raking, collapsing and trimming."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import margins_of, survey_frames

from analysis.errors import InputError, WeightingError
from analysis.pipeline import Options, run_analysis
from analysis.spec import Spec
from analysis.weights import CollapseRule, Margin, RakeDidNotConverge, TrimRule, design, merge_adjacent, rake
from analysis.weights.trim import bounded_rake

BY = ("age_group", "sex")


def weighted(spec: Spec, responses: pd.DataFrame, population: pd.DataFrame, **options: object) -> pd.DataFrame:
    run = run_analysis(responses, population, spec, Options(by=BY, **options))  # type: ignore[arg-type]
    return responses.merge(run.weights[["id", "weight"]], on="id")


def test_design_weights_are_population_over_sample() -> None:
    plan = design(np.array([0, 0, 0, 1, 1]), np.array(["A", "B"], dtype=object), {"A": 300.0, "B": 50.0})
    np.testing.assert_allclose(plan.base, [100, 100, 100, 25, 25])
    np.testing.assert_allclose(plan.fpc, [1 - 3 / 300, 1 - 2 / 50])


@pytest.mark.parametrize(("totals", "message"), [({"A": 300.0}, "township 'B' has respondents but no population"),
                                                 ({"A": 300.0, "B": 1.0}, "'B' has 2 respondents but a population of 1")])
def test_design_rejects_impossible_populations(totals: dict[str, float], message: str) -> None:
    with pytest.raises(WeightingError, match=message):
        design(np.array([0, 0, 0, 1, 1]), np.array(["A", "B"], dtype=object), totals)


def test_poststratified_weights_are_cell_count_over_cell_sample(spec: Spec) -> None:
    responses, cells = survey_frames()
    out = weighted(spec, responses, cells, method="poststratify")
    got = out.groupby(["township", "age_group", "sex"])["weight"].agg(["sum", "min", "max", "size"])
    want = cells.set_index(["township", "age_group", "sex"])["N"]
    np.testing.assert_allclose(got["sum"], want.loc[got.index], rtol=1e-12)
    np.testing.assert_allclose(got["min"], got["max"], rtol=1e-12)
    np.testing.assert_allclose(got["min"], want.loc[got.index] / got["size"], rtol=1e-12)


def test_raked_weights_hit_every_margin(spec: Spec) -> None:
    responses, cells = survey_frames(seed=3)
    out = weighted(spec, responses, margins_of(cells), method="rake")
    for variable in BY:
        got = out.groupby(["township", variable])["weight"].sum()
        want = cells.groupby(["township", variable])["N"].sum()
        np.testing.assert_allclose(got, want.loc[got.index], rtol=1e-10)
    assert not np.allclose(out.groupby(["township", "age_group", "sex"])["weight"].sum(),
                           cells.set_index(["township", "age_group", "sex"])["N"].sort_index())


def test_raking_a_two_by_two_table_gives_the_independence_fit() -> None:
    seed = np.ones(4)  # cells (r, c) = (0,0), (0,1), (1,0), (1,1)
    rows = Margin(np.array([0, 0, 1, 1]), np.array([30.0, 70.0]))
    cols = Margin(np.array([0, 1, 0, 1]), np.array([40.0, 60.0]))
    np.testing.assert_allclose(rake(seed, [rows, cols]), np.outer([30, 70], [40, 60]).ravel() / 100, rtol=1e-10)


def test_raking_that_cannot_converge_names_the_township_and_margin(spec: Spec) -> None:
    # Only young men and old women answered: the age margin fixes the men's total at 500, the sex margin at 300.
    responses = pd.DataFrame({"id": range(20), "township": "X", "age_group": ["18-29"] * 10 + ["60+"] * 10,
                              "sex": ["M"] * 10 + ["F"] * 10, "q_safety": 1, "q_police": 1})
    margins = pd.DataFrame([("X", "age_group", "18-29", 500), ("X", "age_group", "60+", 500),
                            ("X", "sex", "M", 300), ("X", "sex", "F", 700)], columns=["township", "margin", "level", "N"])
    with pytest.raises(WeightingError, match=r"township X: raking cannot meet margin (age_group|sex)") as caught:
        weighted(spec, responses, margins, method="rake")
    assert caught.value.township == "X" and caught.value.margin in BY


def test_rake_reports_a_margin_group_nobody_can_carry() -> None:
    with pytest.raises(RakeDidNotConverge) as caught:
        rake(np.array([1.0, 0.0]), [Margin(np.array([0, 1]), np.array([5.0, 5.0]))])
    assert (caught.value.margin, caught.value.group) == (0, 1)


@pytest.mark.parametrize(("n", "N", "runs"), [
    ([10, 10, 10, 10], [100, 100, 100, 100], [[0], [1], [2], [3]]),
    ([0, 10, 10, 10], [100, 100, 100, 100], [[0, 1], [2], [3]]),  # empty first level joins its only neighbour
    ([10, 3, 10, 6], [100, 100, 100, 100], [[0], [1, 2], [3]]),  # neighbours tie at 10: the later one
    ([10, 8, 2, 20], [100, 100, 100, 100], [[0], [1, 2], [3]]),  # 2 joins 8 (fewer than 20)
    ([10, 10, 10, 10], [100, 100, 400, 100], [[0], [1], [2], [3]]),  # adjustment 4 alone is no reason
    ([0, 0, 10, 10], [0, 0, 100, 100], [[2], [3]]),  # levels with neither sample nor population drop out
])
def test_merge_adjacent_is_deterministic(n: list[int], N: list[int], runs: list[list[int]]) -> None:
    assert merge_adjacent(n, N, 10.0, CollapseRule()) == runs


def test_the_old_adjustment_rule_is_an_option() -> None:
    """400/(10*10) = 4 > 3 merges the cell only when max_adjustment is set."""
    assert merge_adjacent([10, 10, 10, 10], [100, 100, 400, 100], 10.0, CollapseRule(max_adjustment=3.0)) == \
        [[0], [1], [2, 3]]


def test_merge_adjacent_gives_up_when_everything_merged_still_fails() -> None:
    assert merge_adjacent([1, 2], [50, 50], 10.0, CollapseRule()) is None
    assert merge_adjacent([0, 10], [50, 50], 10.0, CollapseRule(enabled=False)) is None


def _without(responses: pd.DataFrame, town: str, age: str, sex: str) -> pd.DataFrame:
    gone = (responses.township == town) & (responses.age_group == age) & (responses.sex == sex)
    return responses.loc[~gone].reset_index(drop=True)


def test_an_empty_cell_is_merged_within_its_township_and_logged(spec: Spec) -> None:
    responses, cells = survey_frames()
    thin = _without(responses, "A", "18-29", "M")
    run = run_analysis(thin, cells, spec, Options(by=BY, method="poststratify"))
    assert "township A: merged age_group 18-29+30-44 within sex=M: 18-29 had no respondents, 30-44 had " \
        f"{((thin.township == 'A') & (thin.sex == 'M') & (thin.age_group == '30-44')).sum()} respondents" \
        in run.result.log
    [merge] = run.result.merges
    assert (merge.stratum, merge.levels, merge.respondents[0], merge.reasons) == \
        ("A", ("18-29", "30-44"), 0, ("empty", None))
    merged = [d for d in run.result.diagnostics if d.cells_collapsed]
    assert {d.stratum for d in merged} == {"A", "ALL"}
    out = thin.merge(run.weights, on="id")
    young_old = out[(out.township == "A") & (out.sex == "M") & out.age_group.isin(["18-29", "30-44"])]
    want = cells[(cells.township == "A") & (cells.sex == "M") & cells.age_group.isin(["18-29", "30-44"])]["N"].sum()
    assert young_old["weight"].sum() == pytest.approx(want, rel=1e-12)
    assert out.groupby("township")["weight"].sum().to_dict() == pytest.approx(
        cells.groupby("township")["N"].sum().to_dict(), rel=1e-12)


def test_an_empty_cell_without_collapsing_is_an_error_naming_it(spec: Spec) -> None:
    responses, cells = survey_frames()
    with pytest.raises(WeightingError, match="township A: empty cell age_group=18-29, sex=M"):
        run_analysis(_without(responses, "A", "18-29", "M"), cells, spec,
                     Options(by=BY, method="poststratify", collapse=CollapseRule(enabled=False)))


def test_a_township_with_too_few_men_falls_back_to_raking(spec: Spec) -> None:
    responses, cells = survey_frames()
    men = responses.index[(responses.township == "C") & (responses.sex == "M")]
    thin = responses.drop(men[3:]).reset_index(drop=True)  # 3 men left in C
    run = run_analysis(thin, cells, spec, Options(by=BY, method="poststratify"))
    log = "\n".join(run.result.log)
    assert "township C: cells too thin even after merging adjacent age_group groups; raked to the margins" in log
    assert "township C: margin sex merged to one level" in log
    out = thin.merge(run.weights, on="id")
    c = out[out.township == "C"]
    np.testing.assert_allclose(c.groupby("age_group")["weight"].sum(),
                               cells[cells.township == "C"].groupby("age_group")["N"].sum(), rtol=1e-10)


def test_respondents_in_a_cell_without_population_are_an_error(spec: Spec) -> None:
    responses, cells = survey_frames()
    cells = cells[~((cells.township == "B") & (cells.age_group == "60+") & (cells.sex == "F"))]
    with pytest.raises(WeightingError, match=r"township B: \d+ respondents in cell age_group=60\+, sex=F, which has "
                                             "no population"):
        run_analysis(responses, cells, spec, Options(by=BY, method="poststratify"))


def test_inconsistent_margins_are_rescaled_to_the_total_and_logged(spec: Spec) -> None:
    responses, cells = survey_frames()
    margins = margins_of(cells)
    sex_b = (margins.township == "B") & (margins.margin == "sex")
    margins.loc[sex_b, "N"] *= 1.02
    run = run_analysis(responses, margins, spec, Options(by=BY))
    assert any(line.startswith("township B: margin sex summed to 8160") and "rescaled to 8000" in line
               for line in run.result.log)
    out = responses.merge(run.weights, on="id")
    assert out[out.township == "B"].groupby("sex")["weight"].sum().sum() == pytest.approx(8000, rel=1e-10)


def test_a_margin_missing_for_one_township_takes_the_county_distribution(spec: Spec) -> None:
    responses, cells = survey_frames()
    margins = margins_of(cells)
    margins = margins[~((margins.township == "C") & (margins.margin == "sex"))]
    run = run_analysis(responses, margins, spec, Options(by=BY))
    assert "township C: no sex margin in population; used the county distribution scaled to N=3000" in run.result.log
    out = responses.merge(run.weights, on="id")
    others = cells[cells.township != "C"]
    county = others.groupby("sex")["N"].sum() / others["N"].sum() * 3000
    np.testing.assert_allclose(out[out.township == "C"].groupby("sex")["weight"].sum(), county.sort_index(),
                               rtol=1e-10)


def test_a_weighting_variable_with_no_margin_at_all_is_an_error(spec: Spec) -> None:
    responses, cells = survey_frames()
    margins = margins_of(cells)
    with pytest.raises(InputError, match="no margin 'sex'"):
        run_analysis(responses, margins[margins.margin != "sex"], spec, Options(by=BY))


def _skewed(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Young men under-represented, so raking factors spread beyond [0.83, 1.55]."""
    responses, cells = survey_frames(seed=seed, towns={"A": (20_000, 400), "B": (9_000, 300)})
    young_men = responses.index[(responses.age_group == "18-29") & (responses.sex == "M")]
    return responses.drop(young_men[::3][: len(young_men) // 2]).reset_index(drop=True), cells


def test_trimming_keeps_every_cap_and_every_margin(spec: Spec) -> None:
    responses, cells = _skewed()
    plain = weighted(spec, responses, margins_of(cells), method="rake")
    run = run_analysis(responses, margins_of(cells), spec,
                       Options(by=BY, method="rake", trim=TrimRule(upper=1.55, lower=0.83)))
    out = responses.merge(run.weights, on="id")
    base = out.groupby("township")["id"].transform("size").rdiv(out.township.map({"A": 20_000, "B": 9_000}))
    g_plain = plain["weight"] / base
    g = out["weight"] / base
    assert g_plain.max() > 1.55 and g_plain.min() < 0.83
    assert g.max() <= 1.55 * (1 + 1e-9) and g.min() >= 0.83 * (1 - 1e-9)
    for variable in BY:
        np.testing.assert_allclose(out.groupby(["township", variable])["weight"].sum(),
                                   cells.groupby(["township", variable])["N"].sum(), rtol=1e-9)
    assert next(d for d in run.result.diagnostics if d.stratum == "ALL").trimmed > 0


def test_median_cap_holds_after_reraking(spec: Spec) -> None:
    responses, cells = _skewed()
    plain = weighted(spec, responses, margins_of(cells), method="rake")
    run = run_analysis(responses, margins_of(cells), spec, Options(by=BY, method="rake", trim=TrimRule(median=1.47)))
    out = responses.merge(run.weights, on="id")
    caps = {town: 1.47 * plain[plain.township == town]["weight"].median() for town in ("A", "B")}
    assert plain[plain.township == "B"]["weight"].max() > caps["B"]
    for town, cap in caps.items():
        assert out[out.township == town]["weight"].max() <= cap * (1 + 1e-9)
    np.testing.assert_allclose(out.groupby(["township", "age_group"])["weight"].sum(),
                               cells.groupby(["township", "age_group"])["N"].sum(), rtol=1e-9)


def test_caps_that_cannot_hold_with_the_margins_are_an_error(spec: Spec) -> None:
    responses, cells = _skewed()
    with pytest.raises(WeightingError, match=r"township [AB]: raking cannot meet margin (age_group|sex) "
                                             r"\((age_group|sex)=.* off by .*\) within the trimming caps"):
        run_analysis(responses, margins_of(cells), spec,
                     Options(by=BY, method="rake", trim=TrimRule(upper=1.05, lower=0.95)))


def test_caps_that_cannot_hold_with_the_margins_fail_with_a_finite_error_and_no_numpy_warnings() -> None:
    """One township's cells (age x sex) whose margins cannot be met with 0.46 <= w/d <= 1.75 (an LP
    says so): the bounded raking's factors used to run off to 0/inf, print overflow warnings and
    report the miss as 'off by nan%'."""
    counts = np.array([2, 11, 1, 10, 6, 14, 34, 9], dtype=float)  # 18-29 M, F, 30-44 M, F, ...
    seed = counts * 1129 / 87
    age = Margin(np.repeat(np.arange(4), 2), np.array([283.0, 237.0, 327.0, 282.0]))
    sex = Margin(np.tile(np.arange(2), 4), np.array([580.0, 549.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RakeDidNotConverge) as caught:
            bounded_rake(seed, [age, sex], np.full(8, 0.46), np.full(8, 1.75))
    assert np.isfinite(caught.value.error) and caught.value.error > 0.01


def _two_age_groups() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One township: 60,000 aged 18-29 (710 respondents, 40% feel safe), 40,000 aged 30-44 (4,290, 80%)."""
    groups = [("18-29", 710, 284), ("30-44", 4290, 3432)]
    rows = [(f"{age}-{i}", "T", age, 1 if i < safe else 5, 1) for age, n, safe in groups for i in range(n)]
    responses = pd.DataFrame(rows, columns=["id", "township", "age_group", "q_safety", "q_police"])
    cells = pd.DataFrame({"township": ["T", "T"], "age_group": ["18-29", "30-44"], "N": [60_000, 40_000]})
    return responses, cells


def _safety(run_options: Options, spec: Spec, responses: pd.DataFrame, cells: pd.DataFrame) -> float | None:
    run = run_analysis(responses, cells, spec, run_options)
    return next(e.estimate for e in run.result.estimates if e.stratum == "ALL" and e.index == "safety")


def test_a_cell_with_enough_respondents_keeps_its_adjustment(spec: Spec) -> None:
    """Adjustment 60,000/(710 x 20) = 4.2 corrects nonresponse; merging it would report 74.3%, not 56%."""
    responses, cells = _two_age_groups()
    assert _safety(Options(by=("age_group",), method="poststratify"), spec, responses, cells) == pytest.approx(0.56, abs=1e-12)
    old = Options(by=("age_group",), method="poststratify", collapse=CollapseRule(max_adjustment=3.0))
    assert _safety(old, spec, responses, cells) == pytest.approx(3716 / 5000, abs=1e-12)


def test_neighbours_do_not_depend_on_the_population_file_row_order(spec: Spec) -> None:
    responses, cells = survey_frames(waves=("1", "2"))
    thin = (responses.township == "B") & (responses.age_group == "45-59") & (responses.sex == "F")
    responses = responses.drop(responses.index[thin][2:]).reset_index(drop=True)  # 2 respondents left
    want = run_analysis(responses, cells, spec, Options(by=BY, method="poststratify")).result
    assert [m.levels for m in want.merges] == [("45-59", "60+")] * 2  # 60+ F has fewer than 30-44 F
    for seed in range(3):
        shuffled = cells.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        got = run_analysis(responses, shuffled, spec, Options(by=BY, method="poststratify")).result
        assert got.merges == want.merges
        for a, b in zip(got.estimates, want.estimates, strict=True):
            assert (a.period, a.stratum, a.index) == (b.period, b.stratum, b.index)
            assert (a.estimate, a.se, a.ci_low, a.ci_high) == pytest.approx((b.estimate, b.se, b.ci_low, b.ci_high),
                                                                            abs=1e-12, nan_ok=True)
