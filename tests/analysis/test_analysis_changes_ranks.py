"""Change between periods with multiplicity adjustment; ranks with intervals and tiers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from analysis_helpers import SPEC_DICT, survey_frames
from scipy import stats

from analysis.changes import benjamini_hochberg, changes, holm
from analysis.pipeline import Options, run_analysis
from analysis.ranks import ranks
from analysis.results import ALL, COUNTY, GROUP, Estimate
from analysis.spec import parse_spec


def test_holm_and_benjamini_hochberg_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])


def est(period: str, stratum: str, value: float | None, se: float | None, index: str = "x") -> Estimate:
    return Estimate(period=period, stratum=stratum, index=index, kind="share", n=100, estimate=value, se=se,
                    ci_low=None, ci_high=None, deff=None, deff_kish=None, n_eff=None)


def test_change_uses_independent_samples_and_adjusts_within_the_pair_of_periods() -> None:
    rows = [est("1", "A", 0.5, 0.03), est("2", "A", 0.62, 0.04), est("1", "B", 0.7, 0.02), est("2", "B", 0.71, 0.02),
            est("1", "C", 0.6, 0.05), est("2", "C", None, None), est("3", "A", 0.5, 0.03)]
    got = {(c.stratum, c.period_to): c for c in changes(rows, ["1", "2", "3"], "holm")}
    a = got[("A", "2")]
    assert a.change == pytest.approx(0.12) and a.se == pytest.approx(0.05)
    assert a.p_value == pytest.approx(2 * stats.norm.sf(0.12 / 0.05))
    b = got[("B", "2")]
    assert a.p_adjusted == pytest.approx(min(1, 2 * a.p_value)) and b.p_adjusted == pytest.approx(max(b.p_value,
                                                                                                    a.p_adjusted))
    assert a.significant and not b.significant
    assert (a.ci_low, a.ci_high) == pytest.approx((0.12 - 1.959964 * 0.05, 0.12 + 1.959964 * 0.05), rel=1e-6)
    c = got[("C", "2")]
    assert (c.change, c.p_value, c.significant) == (None, None, False)
    assert got[("A", "3")].p_adjusted == pytest.approx(got[("A", "3")].p_value)  # a family of one


def test_changes_are_adjusted_within_their_level_and_index() -> None:
    """The county's (or a province's counties') changes are a family of their own: a county's headline
    change is not diluted by its townships' changes, nor a province's counties' by its townships', nor
    one index's by another's."""
    townships = [e for t in "ABCDEFGH" for i in ("x", "y")
                 for e in (est("1", t, 0.5, 0.03, i), est("2", t, 0.55, 0.03, i))]
    county = [replace(est("1", COUNTY, 0.5, 0.01), level=ALL), replace(est("2", COUNTY, 0.535, 0.01), level=ALL)]
    counties = [replace(e, level=GROUP) for c in ("C1", "C2") for e in (est("1", c, 0.5, 0.02), est("2", c, 0.56, 0.02))]
    got = {c.stratum: c for c in changes(townships + county + counties, ["1", "2"], "holm") if c.index == "x"}
    assert got[COUNTY].p_adjusted == pytest.approx(got[COUNTY].p_value)  # a family of one: the county
    assert got[COUNTY].significant  # p = 0.013: would not be, adjusted over the 19 tests together
    assert got["C1"].p_adjusted == pytest.approx(2 * got["C1"].p_value)  # the two counties together
    assert got["A"].p_adjusted == pytest.approx(min(1, 8 * got["A"].p_value))  # index x's eight townships


def test_well_separated_townships_rank_exactly_and_reruns_repeat() -> None:
    rows = [est("1", t, v, 0.01) for t, v in (("A", 0.9), ("B", 0.5), ("C", 0.7))] + [est("1", COUNTY, 0.7, 0.005)]
    vs_county = {("1", "x", t): 0.011 for t in "ABC"}
    first, again = ranks(rows, vs_county), ranks(rows, vs_county)
    assert first == again
    got = {r.stratum: r for r in first}
    assert [(got[t].rank, got[t].rank_low, got[t].rank_high) for t in "ABC"] == [(1, 1, 1), (3, 3, 3), (2, 2, 2)]
    assert [got[t].tier for t in "ABC"] == ["above", "below", "same"]


def test_close_townships_get_wide_rank_intervals() -> None:
    values = {"A": 0.80, "B": 0.81, "C": 0.79, "D": 0.97}
    rows = [est("1", t, v, 0.015) for t, v in values.items()] + [est("1", COUNTY, 0.84, 0.01)]
    got = {r.stratum: r for r in ranks(rows, {("1", "x", t): 0.015 for t in values})}
    for t in "ABC":
        assert (got[t].rank_low, got[t].rank_high) == (2, 4)
    assert (got["D"].rank, got["D"].rank_low, got["D"].rank_high) == (1, 1, 1)


def pairwise_by_hand(values: dict[str, float], se: float, pairs: int) -> dict[str, tuple[int, int]]:
    """Rank sets from the definition: logit-scale differences against a Bonferroni normal quantile."""
    z = stats.norm.ppf(1 - 0.05 / (2 * pairs))
    logit = {t: np.log(v / (1 - v)) for t, v in values.items()}
    s = {t: se / (v * (1 - v)) for t, v in values.items()}
    out = {}
    for k in values:
        above = sum(logit[j] - logit[k] > z * np.hypot(s[j], s[k]) for j in values if j != k)
        below = sum(logit[k] - logit[j] > z * np.hypot(s[j], s[k]) for j in values if j != k)
        out[k] = (1 + above, len(values) - below)
    return out


@pytest.mark.parametrize(("family", "pairs"), [("joint", 10), ("marginal", 4)])
def test_rank_sets_count_the_simultaneously_significant_pairs(family: str, pairs: int) -> None:
    values = {"A": 0.70, "B": 0.76, "C": 0.80, "D": 0.86, "E": 0.93}
    rows = [est("1", t, v, 0.02) for t, v in values.items()] + [est("1", COUNTY, 0.8, 0.01)]
    got = {r.stratum: (r.rank_low, r.rank_high) for r in ranks(rows, {}, family)}
    assert got == pairwise_by_hand(values, 0.02, pairs)
    assert len(set(got.values())) > 2  # the example separates some pairs and not others


def test_marginal_sets_are_never_wider_than_joint_ones() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(0.6, 0.95, 40)
    rows = [est("1", f"T{j:02}", float(v), 0.02) for j, v in enumerate(values)] + [est("1", COUNTY, 0.8, 0.01)]
    joint = {r.stratum: r for r in ranks(rows, {}, "joint")}
    marginal = {r.stratum: r for r in ranks(rows, {}, "marginal")}
    assert all(joint[t].rank_low <= marginal[t].rank_low <= marginal[t].rank <= marginal[t].rank_high
               <= joint[t].rank_high for t in joint)
    assert sum(marginal[t].rank_high - marginal[t].rank_low for t in joint) < sum(
        joint[t].rank_high - joint[t].rank_low for t in joint)


def test_rank_sets_cover_all_true_ranks_jointly_at_least_95_percent() -> None:
    """Seeded simulation: 12 townships, several within a fraction of an SE of each other (where the
    quantiles of simulated ranks around the estimates cover the true ranks jointly far less often)."""
    truth = np.array([0.80, 0.805, 0.81, 0.815, 0.82, 0.84, 0.86, 0.87, 0.875, 0.90, 0.93, 0.95])
    se = np.sqrt(truth * (1 - truth) / 60)
    true_rank = (truth[None, :] > truth[:, None]).sum(axis=1) + 1
    rng = np.random.default_rng(2026)
    reps, covered = 1000, 0
    for _ in range(reps):
        p = np.clip(truth + se * rng.standard_normal(truth.size), 0.01, 0.99)
        rows = [est("1", f"T{j:02}", float(v), float(s)) for j, (v, s) in enumerate(zip(p, se, strict=True))]
        got = ranks([*rows, est("1", COUNTY, 0.85, 0.01)], {})
        low, high = np.array([r.rank_low for r in got]), np.array([r.rank_high for r in got])
        covered += bool(np.all((low <= true_rank) & (true_rank <= high)))
    assert covered / reps >= 0.95


def test_pipeline_changes_ranks_and_jump_flags() -> None:
    responses, cells = survey_frames(waves=("2025", "2026"))
    jump = (responses.wave == "2026") & (responses.township == "A") & ~responses.q_safety.isin([8, 9])
    responses.loc[jump, "q_safety"] = 5
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}, "integrity": {"jump_z": 4}})
    run = run_analysis(responses, cells, spec, Options(by=("age_group", "sex")))
    a = next(c for c in run.result.changes if c.stratum == "A")
    assert a.change < -0.5 and a.significant
    assert [f.stratum for f in run.result.integrity if f.kind == "jump"] == ["A"]
    assert any(line.startswith("period 2026, township A: safety moved -") for line in run.result.flags)
    assert {r.period for r in run.result.ranks} == {"2025", "2026"}
    assert next(r for r in run.result.ranks if r.period == "2026" and r.stratum == "A").tier == "below"


def test_changes_run_from_the_earlier_month_to_the_later_one() -> None:
    """``2026-9`` is before ``2026-10`` although it sorts after it as text."""
    responses, cells = survey_frames(waves=("2026-9", "2026-10"))
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]}})
    run = run_analysis(responses, cells, spec, Options(by=("age_group", "sex")))
    assert list(dict.fromkeys(e.period for e in run.result.estimates)) == ["2026-9", "2026-10"]
    assert {(c.period_from, c.period_to) for c in run.result.changes} == {("2026-9", "2026-10")}


def test_tiers_test_on_the_logit_scale_and_are_holm_adjusted_over_townships() -> None:
    values = {"A": 0.87, "B": 0.80, "C": 0.80, "D": 0.80}
    rows = [est("1", t, v, 0.025) for t, v in values.items()] + [est("1", COUNTY, 0.81, 0.01)]
    got = {r.stratum: r for r in ranks(rows, {("1", "x", t): 0.024 for t in values})}
    a_h, a_c = 1 / (0.87 * 0.13), 1 / (0.81 * 0.19)
    cov = (0.025**2 + 0.01**2 - 0.024**2) / 2
    se = np.sqrt(a_h**2 * 0.025**2 + a_c**2 * 0.01**2 - 2 * a_h * a_c * cov)
    t = (np.log(0.87 / 0.13) - np.log(0.81 / 0.19)) / se
    assert got["A"].p_value == pytest.approx(2 * stats.norm.sf(t), rel=1e-12)  # df unknown here: normal
    assert got["A"].p_value < 0.05 < got["A"].p_adjusted == pytest.approx(4 * got["A"].p_value)
    assert got["A"].tier == "same"  # significant alone, not after Holm over 4 townships


def test_change_is_a_t_test_with_satterthwaite_df() -> None:
    first = Estimate(period="1", stratum="A", index="x", kind="share", n=31, estimate=0.5, se=0.06, ci_low=None,
                     ci_high=None, deff=None, deff_kish=None, n_eff=None, df=30)
    second = Estimate(**{**first.__dict__, "period": "2", "estimate": 0.68, "se": 0.08, "df": 20})
    [c] = changes([first, second], ["1", "2"])
    df = (0.06**2 + 0.08**2) ** 2 / (0.06**4 / 30 + 0.08**4 / 20)
    assert c.df == pytest.approx(df, rel=1e-12)
    assert c.p_value == pytest.approx(2 * stats.t.sf(0.18 / 0.1, df), rel=1e-12) and c.p_value > 2 * stats.norm.sf(1.8)
    assert c.ci_high - c.change == pytest.approx(stats.t.ppf(0.975, df) * 0.1, rel=1e-12)


def test_a_county_at_100_percent_is_compared_on_the_linear_scale() -> None:
    rows = [est("1", "A", 1.0, 0.0), est("1", "B", 0.9, 0.02), est("1", COUNTY, 1.0, 0.0)]
    got = {r.stratum: r for r in ranks(rows, {("1", "x", "A"): 0.0, ("1", "x", "B"): 0.02})}
    assert got["A"].p_value is None and got["A"].tier == "same"  # no difference, no variance: untestable
    assert got["B"].p_value == pytest.approx(2 * stats.norm.sf(0.1 / 0.02), rel=1e-12)
    assert got["B"].tier == "below"
