"""What the bulletin may claim: a county row that names what it leaves out, times in the centre's
zone, "—" for what cannot be given, items that moved in the main points, comparisons worded as the
test found them, an English edition without leftovers, and township charts whose labels never overlap."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from pathlib import Path

import pytest
from report_helpers import Rendered, render, share
from reportlab.graphics.shapes import Line, String

from analysis.results import Estimate, Rank
from reports import charts
from reports.bulletin_data import BulletinData, Lang
from reports.charts import township_charts
from reports.fonts import register_font
from reports.highlights import main_points
from reports.methods import methods_items
from reports.reliability import Reliability, township_rows
from reports.sample import sample_bulletin_data
from reports.styles import make_styles
from reports.tables import township_cells

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
LEFTOVERS = re.compile(r"\{[a-z_]*\}|%\(|\bNone\b|\b[Nn]a[Nn]\b|\binf\b")  # format fields, Python's words


def line_starting(rendered: Rendered, prefix: str) -> str:
    return next(line for line in rendered.lines() if line.startswith(prefix))


def flat(rendered: Rendered, lang: Lang) -> str:
    return rendered.text.replace("\n", "" if lang == "zh" else " ")


def test_the_county_row_is_marked_and_the_townships_it_leaves_out_are_named(
    sample: BulletinData, sample_zh: Rendered, sample_en: Rendered
) -> None:
    [left_out] = sample.left_out
    percent = f"{100 * left_out.share:.1f}%"
    zh, en = flat(sample_zh, "zh"), flat(sample_en, "en")
    assert re.match(r"公众安全感（%） \d+\.\d%† ", line_starting(sample_zh, "公众安全感（%）"))
    name_zh, name_en = (sample.township_name(left_out.stratum, lang) for lang in ("zh", "en"))
    assert f"†：全县估计不含没有受访者的乡镇：{name_zh}（占全县成年常住人口 {percent}）" in zh
    assert f"†: The county estimates leave out the townships with no interviews: {name_en} ({percent} of the " \
           "county's adults)" in en
    covered = f"{100 * (1 - left_out.share):.1f}%"
    coverage = dict(methods_items(sample, "zh"))["m_coverage"]
    assert name_zh in coverage and covered in coverage
    assert all(p.startswith(("全县", "分项", "本期", "公众", "较上期", "受理", "没有")) for p in main_points(sample, "zh"))
    assert "%†（95%" in main_points(sample, "zh")[0]


def test_a_county_that_covers_every_township_is_not_marked(sample: BulletinData) -> None:
    whole = replace(sample, unsampled=())
    rendered = render(whole, "zh")
    assert "†" not in rendered.text
    assert dict(methods_items(whole, "zh"))["m_coverage"] == "全县估计覆盖全部 21 个乡镇（街道），每个乡镇都有受访者。"


@pytest.mark.parametrize(("zone", "zh", "en"), [
    ("Asia/Shanghai", "2026-11-03 18:00 北京时间", "2026-11-03 18:00 Beijing time"),
    ("Asia/Tokyo", "2026-11-03 19:00 Asia/Tokyo，UTC+9", "2026-11-03 19:00 Asia/Tokyo, UTC+9"),
    ("America/New_York", "2026-11-03 05:00 America/New_York，UTC−5", "2026-11-03 05:00 America/New_York, UTC−5"),
])  # fmt: skip
def test_the_footer_time_is_in_the_centres_zone_and_names_it(tiny: BulletinData, zone: str, zh: str,
                                                             en: str) -> None:
    data = replace(tiny, timezone=zone)
    assert all(f"数据快照 {zh} · Minyi" in page for page in render(data, "zh").pages)
    assert f"Data snapshot {en} · Minyi" in render(data, "en").pages[-1]
    dates = dict(methods_items(data, "en"))["m_dates"]  # the zone's offset on the first day of fieldwork
    summer = en.split(" ", 2)[2].replace("UTC−5", "UTC−4")
    assert dates.startswith(f"8 October 2026 to 28 October 2026 ({summer}). Calling hours ")


def test_the_calling_hours_are_the_configured_ones(sample: BulletinData) -> None:
    hours = replace(sample.fieldwork.calling_hours, weekday=((9 * 60, 1440),), weekend=((9 * 60, 1440),),
                    days={}, holidays=0, timezone="Asia/Urumqi")  # fmt: skip
    data = replace(sample, fieldwork=replace(sample.fieldwork, calling_hours=hours))
    assert dict(methods_items(data, "en"))["m_dates"].endswith(
        "Calling hours (Asia/Urumqi, UTC+6): 09:00–24:00 every day."
    )
    assert dict(methods_items(sample, "en"))["m_dates"].endswith(
        "Calling hours (Beijing time): 18:30–21:00 Monday to Friday; 09:00–12:00, 14:00–21:00 on Saturdays and "
        "Sundays; 18:30–21:30 on Fridays; no calls on 1 public holiday."
    )


def test_the_methods_box_names_resident_adults_as_the_weighting_targets(sample: BulletinData) -> None:
    box = dict(methods_items(sample, "zh"))
    assert "常住" in box["m_population"] and "常住人口" in box["m_weighting"] and "不用户籍人口" in box["m_weighting"]
    assert "not household registration counts" in dict(methods_items(sample, "en"))["m_weighting"]


def test_undefined_statistics_are_dashes_with_a_note_never_zero_or_nan(tiny: BulletinData) -> None:
    nan = float("nan")
    broken = Estimate("2026-10", "A01", "safety", "share", 117, 0.93, nan, nan, nan, None, 1.2, 90.0)
    data = replace(tiny, estimates=(*[e for e in tiny.estimates if e.stratum != "A01"], broken))
    styles = make_styles("zh")
    rows = {row.code: row for row in township_rows(data, "safety")}
    cells = township_cells(data, data.indices[0], rows["A01"], "zh", styles)
    assert cells[3] == "—"  # the interval is undefined
    assert cells[5:] == ["—", "—", "—", "—"]  # no test against the county, no earlier period
    assert township_cells(data, data.indices[0], rows["A03"], "zh", styles)[0] == "—"  # withheld: no rank
    rendered = render(data, "zh")
    assert not LEFTOVERS.search(rendered.text)
    assert "—：无法给出。样本量不足的乡镇不发布估计，也不排名、不检验" in flat(rendered, "zh")


def test_the_headline_design_effect_is_a_dash_when_undefined(tiny: BulletinData) -> None:
    county = replace(tiny.estimates[0], deff=None)
    rendered = render(replace(tiny, estimates=(county, *tiny.estimates[1:])), "en")
    assert line_starting(rendered, "Sense of safety (%)").endswith("— — — 160")
    assert "Design effect “—”: not defined" in flat(rendered, "en")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_main_points_name_every_item_that_moved_significantly(sample: BulletinData, lang: Lang) -> None:
    [item] = sample.items
    change = sample.change(item.id, sample.periods.previous)
    assert change is not None and change.significant and change.change is not None
    line = next(p for p in main_points(sample, lang) if item.name.get(lang) in p)
    assert f"{100 * change.change:.1f}" in line and ("上升" in line if lang == "zh" else " up " in line)


def test_an_item_that_did_not_move_is_left_out_of_the_main_points(sample: BulletinData) -> None:
    still = tuple(replace(c, significant=False) if c.index == "court" else c for c in sample.changes)
    assert not any("法院满意率" in p for p in main_points(replace(sample, changes=still), "zh"))


def test_items_are_rows_of_the_headline_table(sample_zh: Rendered, sample_en: Rendered) -> None:
    assert re.match(r"法院满意率（%） \d+\.\d%† [\d.–]+ \+\d+\.\d▲ ", line_starting(sample_zh, "法院满意率（%）"))
    assert line_starting(sample_en, "Satisfaction with the courts (%)")


def paradox(tiny: BulletinData) -> BulletinData:
    """甲镇's 95% CI leaves out the county figure, but the Holm-adjusted test does not show a difference."""
    town = share("A01", 0.975, 117)
    assert town.ci_low is not None and town.ci_low > 0.9012
    ranks = (Rank("2026-10", "safety", "A01", 1, 1, 2, "same", 0.03, 0.06),
             Rank("2026-10", "safety", "A02", 2, 1, 2, "same", 0.2, 0.2))  # fmt: skip
    estimates = (*[e for e in tiny.estimates if e.stratum != "A01"], town)
    return replace(tiny, estimates=estimates, ranks=ranks)


def test_an_interval_without_the_county_yet_not_shown_to_differ_is_explained(tiny: BulletinData) -> None:
    data = paradox(tiny)
    zh, en = flat(render(data, "zh"), "zh"), flat(render(data, "en"), "en")
    assert "甲镇的 95% 置信区间不含全县估计，但与全县比较为“未显示出差异”：同时比较 2 个乡镇时，Holm 法" in zh
    assert ("The 95% interval of Jia Town leaves out the county figure, yet the comparison says \"Not shown to "
            "differ\": comparing 2 townships at once, Holm's method") in en
    assert re.search(r"1 \(1–2\) 甲镇 97\.5% [\d.–]+ 117 未显示出差异 0\.030/0\.060 ", zh)
    assert "0.030/0.060" in en and "unadjusted p-value, then the Holm-adjusted one" in en


def test_no_such_note_when_intervals_agree_with_the_test(tiny: BulletinData) -> None:
    data = replace(paradox(tiny), ranks=(Rank("2026-10", "safety", "A01", 1, 1, 2, "above", 0.001, 0.002),))
    assert "不含全县估计" not in flat(render(data, "zh"), "zh")


def test_no_township_shown_to_differ_is_said_so(tiny: BulletinData) -> None:
    points = main_points(paradox(tiny), "en")
    assert "No township was shown to differ from the county on sense of safety (Holm-adjusted)." in points
    assert not any("significantly above" in p for p in points)


@pytest.mark.parametrize("townships", [21, 40])
def test_the_english_edition_has_no_chinese_and_no_leftovers(townships: int) -> None:
    data = sample_bulletin_data(townships)
    rendered = render(data, "en")
    text = flat(rendered, "en")
    assert not CJK.search(text), CJK.findall(text)[:10]
    assert not LEFTOVERS.search(text), LEFTOVERS.findall(text)
    for phrase in ("Main points", "About the survey", "Calling hours", "Coverage", "p / Holm p",
                   "Not shown to differ"):  # fmt: skip
        assert phrase in text
    assert not LEFTOVERS.search(flat(render(data, "zh"), "zh"))


def long_names(data: BulletinData) -> BulletinData:
    """Every third township gets a 12-character Chinese name and a long English one."""
    towns = tuple(
        replace(t, name=replace(t.name, zh=(t.name.zh[:2] + "经济技术开发区管理委员会")[:12],
                                en=t.name.en + " Economic and Technological Development Zone"))
        if i % 3 == 0 else t
        for i, t in enumerate(data.townships)
    )  # fmt: skip
    return replace(data, townships=towns)


def boxes(strings: list[String]) -> list[tuple[float, float, float, float]]:
    return [s.getBounds() for s in strings]


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] - 1e-6 and b[0] < a[2] - 1e-6 and a[1] < b[3] - 1e-6 and b[1] < a[3] - 1e-6


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_township_chart_labels_never_overlap_with_40_long_names(lang: Lang) -> None:
    data = long_names(sample_bulletin_data(40))
    assert max(len(t.name.zh) for t in data.townships) == 12
    for index in data.indices:
        published = [r for r in township_rows(data, index.id) if r.reliability is not Reliability.SUPPRESSED]
        drawings = township_charts(data, index, lang, register_font())
        strings = [s for d in drawings for s in d.contents if isinstance(s, String)]
        names = {data.township_name(r.code, lang) for r in published}
        labels = [s for s in strings if s.text in names]
        assert len(labels) == len(published)  # every name in full
        for d in drawings:
            mine = [s for s in d.contents if isinstance(s, String)]
            for a, b in itertools.combinations(boxes(mine), 2):
                assert not overlap(a, b)
            plot_start = min(line.x1 for line in d.contents if isinstance(line, Line))
            for left, _, right, _ in boxes([s for s in mine if s.text in names]):
                assert left >= 0 and right < plot_start
        assert min(s.fontSize for s in labels) >= charts.MIN_LABEL_SIZE


def test_a_name_too_long_for_any_size_is_cut_not_overlapping() -> None:
    data = sample_bulletin_data(5)
    first = data.townships[0]
    data = replace(data, townships=(replace(first, name=replace(first.name, en="Very " * 40 + "Long")),
                                    *data.townships[1:]))  # fmt: skip
    [drawing] = township_charts(data, data.indices[0], "en", register_font())
    label = next(s for s in drawing.contents if isinstance(s, String) and s.text.startswith("Very"))
    assert label.text.endswith("…") and label.getBounds()[0] >= 0


def test_a_survey_states_its_own_population_source_checked_on_input(tmp_path: Path) -> None:
    from reports.from_db import POPULATION_SOURCE, _population_source
    from reports.survey_inputs import read_indices
    from survey.models import Survey
    from survey.questionnaire.loader import load
    from survey.surveys import SurveyError

    questionnaire = load(EXAMPLES / "questionnaire.yaml")
    text = (EXAMPLES / "indices.yaml").read_text(encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(text + "population_source: {zh: 2025年常住人口抽样调查推算数, en: 2025 resident population "
                    "estimates}\n", encoding="utf-8")
    stored = read_indices(good, questionnaire)
    assert _population_source(Survey(analysis_spec=stored)).en == "2025 resident population estimates"
    assert _population_source(Survey(analysis_spec={k: v for k, v in stored.items()
                                                    if k != "population_source"})) == POPULATION_SOURCE
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "population_source: 户籍人口\n", encoding="utf-8")
    with pytest.raises(SurveyError, match=r"bad\.yaml:\d+: population_source must give \{zh: \.\.\., en: \.\.\.\}"):
        read_indices(bad, questionnaire)
