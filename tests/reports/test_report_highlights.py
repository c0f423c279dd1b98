"""要点: at most six bullets, written from the data."""

from __future__ import annotations

from dataclasses import replace

from report_helpers import INDICES, share

from analysis.results import COUNTY, Change
from reports.bulletin_data import BulletinData
from reports.highlights import _names, main_points, withheld_point


def test_at_most_six_bullets_led_by_the_county_indices(sample: BulletinData) -> None:
    points = main_points(sample, "zh")
    assert 4 <= len(points) <= 6
    safety = sample.estimate("safety")
    assert safety is not None and safety.ci_low is not None and safety.ci_high is not None
    assert points[0].startswith("全县公众安全感为 ")
    assert f"{safety.estimate * 100:.1f}%" in points[0]  # type: ignore[operator]
    assert f"{safety.ci_low * 100:.1f}–{safety.ci_high * 100:.1f}" in points[0]
    change = sample.change("safety", sample.periods.previous)
    assert change is not None and change.change is not None
    assert f"{abs(change.change) * 100:.1f}个百分点" in points[0]


def test_response_rate_bullet(sample: BulletinData) -> None:
    d = sample.fieldwork.dispositions
    line = next(p for p in main_points(sample, "zh") if "AAPOR" in p)
    assert f"RR3 {d.rr3 * 100:.1f}%" in line and f"RR1 {d.rr1 * 100:.1f}%" in line
    assert f"{sum(sample.fieldwork.completes_by_township.values()):,}" in line


def test_significant_movers_are_named_largest_first(sample: BulletinData) -> None:
    data = replace(sample, indices=sample.indices[:2])  # two indices, as the bundled survey has: room for movers
    movers = [
        c for c in data.changes
        if c.significant and c.stratum != "ALL" and c.period_from == data.periods.previous
        and c.index in {i.id for i in data.indices}
    ]  # fmt: skip
    assert movers, "the sample has significant township changes"
    line = next(p for p in main_points(data, "en") if "significant changes on" in p)
    assert line.startswith(f"{len(movers)} significant changes")
    kinds = {i.id: i.kind for i in data.indices}
    largest = max(movers, key=lambda c: abs(c.change or 0) * (100 if kinds[c.index] == "share" else 1))
    assert data.township_name(largest.stratum, "en") in line.split(": ", 1)[1].split(";")[0]


def test_no_previous_period_means_no_change_clause(tiny: BulletinData) -> None:
    points = main_points(tiny, "zh")
    county = tiny.estimate("safety")
    assert county is not None and county.ci_low is not None and county.ci_high is not None
    assert (
        points[0]
        == f"全县公众安全感为 90.1%†（95%置信区间 {county.ci_low * 100:.1f}–{county.ci_high * 100:.1f}）。"
    )
    assert not any("较上期" in p for p in points)


def test_a_mover_whose_previous_estimate_was_withheld_is_not_reported(tiny: BulletinData) -> None:
    periods = replace(tiny.periods, previous="2026-09")
    change = Change("A01", "safety", "2026-09", "2026-10", 0.2, 0.05, 0.0001, 0.0002, True)
    withheld_before = share("A01", 0.72, 20, period="2026-09")
    data = replace(tiny, periods=periods, changes=(change,), estimates=(*tiny.estimates, withheld_before))
    assert not any("变化显著的有" in p for p in main_points(data, "zh"))
    published_before = share("A01", 0.72, 120, period="2026-09")
    data = replace(data, estimates=(*tiny.estimates, published_before))
    assert any(
        p.startswith("较上期变化显著的有 1 项：甲镇公众安全感上升 20.0个百分点")
        for p in main_points(data, "zh")
    )


def test_a_change_that_rounds_to_zero_reads_unchanged(tiny: BulletinData) -> None:
    periods = replace(tiny.periods, previous="2026-09")
    before = share("ALL", 0.9010, 150, period="2026-09")
    change = Change("ALL", "safety", "2026-09", "2026-10", 0.0002, 0.03, 0.99, 0.99, False)
    data = replace(tiny, periods=periods, changes=(change,), estimates=(*tiny.estimates, before))
    assert main_points(data, "zh")[0].endswith("），与上期持平。")
    assert main_points(data, "en")[0].endswith(", unchanged on the previous period.")


def test_a_long_list_of_townships_names_four_and_counts_the_rest_as_each_language_does() -> None:
    """Chinese gives the whole count after 等 (甲、乙等 5 个); English says how many more."""
    assert _names(["甲", "乙", "丙", "丁", "戊"], "zh") == "甲、乙、丙、丁等 5 个"
    assert _names(["A", "B", "C", "D", "E", "F"], "en") == "A, B, C, D and 2 more"
    assert _names(["A", "B"], "en") == "A and B"
    assert _names(["A", "B", "C"], "en") == "A, B and C"


def test_withheld_townships_are_counted_for_what_each_index_withholds(tiny: BulletinData) -> None:
    alike = withheld_point(tiny, "zh")
    assert alike is not None and "个乡镇样本量不足，未发布其估计" in alike
    police = INDICES[2]
    estimates = (share(COUNTY, 0.8, 160, index=police.id), share("A01", 0.8, 20, index=police.id),
                 share("A02", 0.8, 100, index=police.id))
    data = replace(tiny, indices=(tiny.indices[0], police), estimates=(*tiny.estimates, *estimates))
    some = withheld_point(data, "zh")
    assert some is not None and some.startswith("2 个乡镇至少一项指数样本量不足")
    assert withheld_point(data, "en") == ("2 townships had too few interviews for at least one index; "
                                          "those estimates are not published (see each index's township table).")
