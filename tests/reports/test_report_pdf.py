"""The rendered bulletin, read back from the PDF: numbers, marks, sections, fonts."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from report_helpers import Rendered, render

from reports.bulletin import render_issue
from reports.bulletin_data import BulletinData, Lang
from reports.concerns import tally
from reports.fonts import has_glyph
from reports.methods import methods_items
from reports.reliability import Reliability, township_rows
from reports.sample import sample_bulletin_data

CJK = re.compile(r"[\u3400-\u9fff]")


def line_starting(rendered: Rendered, prefix: str) -> str:
    return next(line for line in rendered.lines() if line.startswith(prefix))


def test_masthead(sample_zh: Rendered) -> None:
    first = sample_zh.pages[0]
    assert first.startswith("云溪县社情民意调查中心\n第11期\n")
    assert "公众安全感和政法机关执法满意度调查通报（2026年10月）" in first
    assert "发布日期：2026年11月6日" in first


def test_headline_table_numbers(sample: BulletinData, sample_zh: Rendered) -> None:
    for index in sample.indices:
        est = sample.estimate(index.id)
        assert (
            est is not None
            and est.estimate is not None
            and est.ci_low is not None
            and est.ci_high is not None
        )
        scale = 100 if index.kind == "share" else 1
        row = line_starting(sample_zh, f"{index.name.zh}（")
        change = sample.change(index.id, sample.periods.previous)
        assert change is not None and change.change is not None
        expected = [
            f"{est.estimate * scale:.1f}",
            f"{est.ci_low * scale:.1f}–{est.ci_high * scale:.1f}",
            f"{change.change * scale:+.1f}",
            f"{est.n:,}",
        ]
        assert all(part in row for part in expected), (row, expected)


def test_township_table_withholds_flags_and_reranks(sample: BulletinData, sample_zh: Rendered) -> None:
    rows = township_rows(sample, "safety")
    withheld = [r for r in rows if r.reliability is Reliability.SUPPRESSED]
    flagged = [r for r in rows if r.reliability is Reliability.FLAGGED]
    assert withheld and flagged
    for row in withheld:
        name = sample.township_name(row.code, "zh")
        line = next(line for line in sample_zh.lines() if f" {name} " in line and line.startswith("—"))
        n = row.estimate.n if row.estimate else 0
        assert line == f"— {name} — — {n} — — — —"
        assert (
            f"不参加排名：{'、'.join(sample.township_name(r.code, 'zh') for r in withheld)}" in sample_zh.text
        )
    for row in flagged:
        name = sample.township_name(row.code, "zh")
        line = next(line for line in sample_zh.lines() if re.match(rf"\d+ \(\d+–\d+\) {name} ", line))
        assert "※" in line
    ranked = [
        int(line.split()[0])
        for line in sample_zh.lines()
        if re.match(r"\d+ \(\d+–\d+\) ", line)
    ]
    published = len(rows) - len(withheld)
    assert sorted(ranked) == sorted(list(range(1, published + 1)) * len(sample.indices))


def test_sections_and_notes(sample_zh: Rendered) -> None:
    text = sample_zh.text
    for heading in (
        "要点",
        "一、主要指数",
        "二、全县指数走势",
        "三、各乡镇公众安全感",
        "群众反映问题及办理情况",
        "调查说明",
    ):
        assert heading in text
    assert "※：样本量 30–59，或95%置信区间宽于 ±10 个百分点（分）" in text
    assert "▲/▼：变化在统计上显著" in text


def test_significance_marks_match_the_analysis(sample: BulletinData, sample_zh: Rendered) -> None:
    change = next(c for c in sample.changes if c.significant and c.index == "safety" and c.stratum != "ALL"
                  and c.period_from == sample.periods.previous)  # fmt: skip
    name = sample.township_name(change.stratum, "zh")
    line = next(line for line in sample_zh.lines() if f" {name} " in line and line[0].isdigit())
    mark = "▲" if (change.change or 0) > 0 else "▼"
    assert f"{(change.change or 0) * 100:+.1f}{mark}" in line


def test_concerns_section(sample: BulletinData, sample_zh: Rendered) -> None:
    assert sample.concerns is not None
    total = tally(sample.concerns.cells)
    assert f"本期受理群众反映问题 {total.total} 件，已办结 {total.closed} 件" in sample_zh.text
    for status in ("受理", "交办", "办理中", "已办结", "已回访"):
        assert status in sample_zh.text
    assert not re.search(r"1[3-9]\d{9}", sample_zh.text)


def test_methods_box(sample: BulletinData, sample_zh: Rendered) -> None:
    text = sample_zh.text.replace("\n", "")
    d = sample.fieldwork.dispositions
    assert f"AAPOR RR3 {d.rr3 * 100:.1f}%（RR1 {d.rr1 * 100:.1f}%）" in text
    assert f"完成 I={d.complete:,}" in text and f"不合格 NE={d.not_eligible:,}" in text
    assert ("2026年10月8日至2026年10月28日（北京时间）。拨打时间（北京时间）：周一至周五 18:30–21:00；"
            "周六、周日 09:00–12:00、14:00–21:00；周五 18:30–21:30；节假日 1 天不拨打。") in text
    assert "请问在目前的社会治安环境下，您感觉安全吗？" in text
    assert "Holm" in text and "局限性" in text
    assert "未加权样本量 n<30 或有效样本量<30 的估计不发布" in text


def test_methods_box_says_which_cells_were_merged_and_why(sample: BulletinData, sample_zh: Rendered,
                                                          sample_en: Rendered) -> None:
    [merge] = sample.merges
    name = sample.township_name(merge.stratum, "zh")
    assert f"{name}（男）18-29+30-44合并（18-29 仅 3 人（少于 5 人）、30-44 27 人）" in sample_zh.text.replace("\n", "")
    assert "18-29+30-44 merged (18-29: only 3 (fewer than 5), 30-44: 27)" in sample_en.text.replace("\n", " ")
    assert "无：各加权单元的受访者都足够" in " ".join(text for _, text in methods_items(replace(sample, merges=()), "zh"))


def test_benchmark_beside_own_estimate(sample_zh: Rendered) -> None:
    assert "外部参照" in sample_zh.text
    assert re.search(r"95\.3% 12/87", sample_zh.text)


def test_footer_numbers_every_page(sample_zh: Rendered) -> None:
    total = len(sample_zh.pages)
    for number, page in enumerate(sample_zh.pages, start=1):
        assert f"第 {number} 页 / 共 {total} 页" in page
        assert "数据快照 2026-11-03 18:00 北京时间 · Minyi 0.1.0" in page


def test_fonts_are_embedded_truetype_subsets(sample_zh: Rendered, sample_en: Rendered) -> None:
    for rendered in (sample_zh, sample_en):
        fonts: dict[str, Any] = {}
        for page in PdfReader(io.BytesIO(rendered.pdf)).pages:
            resources: Any = page["/Resources"]
            for font in resources["/Font"].values():
                fonts[font.get_object()["/BaseFont"]] = font.get_object()
        assert fonts
        for name, font in fonts.items():
            assert "WenQuanYiMicroHei" in name and "STSong" not in name
            assert font["/Subtype"] == "/TrueType"
            assert "/FontFile2" in font["/FontDescriptor"].get_object()
            assert "/ToUnicode" in font


def test_every_character_has_a_glyph(sample_zh: Rendered, sample_en: Rendered) -> None:
    chars = set(sample_zh.text + sample_en.text) - set(" \n")
    assert [c for c in sorted(chars) if not has_glyph(c)] == []


def test_english_version(sample: BulletinData, sample_en: Rendered) -> None:
    text = sample_en.text
    assert "Yunxi County Public Opinion Survey Centre" in text and "No. 11" in text
    assert "Main points" in text and "About the survey" in text
    for town in sample.townships:
        assert town.name.en in text
    assert not CJK.search(text)


def test_tiny_county_edge_cases(tiny: BulletinData, tiny_zh: Rendered) -> None:
    text = tiny_zh.text
    assert "只有一期数据，暂无走势。" in text
    assert "本期无群众反映问题记录。" in text
    assert "各乡镇政法机关执法满意度" not in text  # one index only
    assert line_starting(tiny_zh, "公众安全感（%）").endswith("— — 1.20 160")  # no previous, no year-ago figure
    assert line_starting(tiny_zh, "— 丙镇") == "— 丙镇 — — 0 — — — —"  # no completes at all
    assert re.search(r"1 \(1–2\) 甲镇 92\.3% .* — — — —", text)  # no test against the county, no change
    assert re.search(r"2 \(1–2\) 乙乡 81\.2%※ ", text)
    assert "较上期" not in text.split("一、主要指数")[0]


def test_157_areas_render_with_every_township() -> None:
    data = sample_bulletin_data(townships=157)
    rendered = render(data, "zh")
    for town in data.townships:
        assert town.name.zh in rendered.text
    assert len(rendered.pages) > 10


def test_an_issue_is_rendered_in_each_of_its_languages(tiny: BulletinData, tmp_path: Path) -> None:
    paths = render_issue(replace(tiny, languages=("zh", "en")), tmp_path)
    assert [p.name for p in paths] == ["bulletin-2026-10-011-zh.pdf", "bulletin-2026-10-011-en.pdf"]
    english = "".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "Jia Town" in english and "甲镇" not in english


def test_the_rank_note_makes_no_claim_about_overlapping_intervals(sample_zh: Rendered, sample_en: Rendered) -> None:
    zh, en = sample_zh.text.replace("\n", ""), sample_en.text.replace("\n", " ")
    assert "区间重叠的乡镇之间差异不显著" not in zh and "ranges overlap are not distinguishable" not in en
    assert "“未显示出差异”只表示检验未能显示出差异" in zh and "logit" in zh and "Holm" in zh
    assert "Not shown to differ" in en


def test_an_undefined_design_effect_is_a_dash_with_a_footnote(tiny: BulletinData, tiny_zh: Rendered) -> None:
    """Every answer alike: the design effect is 0/0, printed "—" and explained, never 0.00."""
    row = line_starting(tiny_zh, f"{tiny.indices[0].name.zh}（")
    assert row.split()[-2:] == ["1.20", "160"] and "设计效应为“—”" not in tiny_zh.text
    county = tiny.estimates[0]
    alike = replace(tiny, estimates=(replace(county, deff=None), *tiny.estimates[1:]))
    cases: tuple[tuple[Lang, str, str], ...] = (
        ("zh", "设计效应为“—”：无法计算", f"{tiny.indices[0].name.zh}（"),
        ("en", "Design effect “—”: not defined", f"{tiny.indices[0].name.en} ("))
    for lang, note, label in cases:
        rendered = render(alike, lang)
        row = line_starting(rendered, label)
        assert row.split()[-2:] == ["—", "160"], row
        assert note in " ".join(rendered.lines())
