"""The provincial bulletin and the county bulletins of one province's analysis (Chinese first).

Order: masthead → 要点 (key findings) → headline indices → for each index a ranking chart (sorted dots
and intervals, split over pages) and the ranking table of every county (township) → 调查说明. The same
renderer makes both; a county's adds its place among the counties.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
)

from reports import formatting as fmt
from reports.bulletin_data import Lang, Text
from reports.i18n import join_and, section_heading, sentences, tr, unit_suffix
from reports.methods import disclosure_box, rule_fields_of
from reports.page import furniture, numbered_canvas
from reports.province_charts import legend, overview_chart, ranking_charts
from reports.province_data import AreaReport, Index, Row
from reports.reliability import Reliability
from reports.styles import (
    BOTTOM_MARGIN,
    CONTENT_WIDTH,
    GREY,
    MARGIN,
    PAGE_HEIGHT,
    RED,
    Styles,
    make_styles,
)
from reports.tables import FLAG, LEFT_OUT, Cell, grid

BODY_HEIGHT = PAGE_HEIGHT - MARGIN - BOTTOM_MARGIN
ALL_PERIODS = "all"  # the period of an analysis without a period column: not printed


@dataclass(frozen=True)
class Issue:
    """What the bulletin states besides the analysis: who publishes it, when, and with which software."""

    centre: Text
    released: date
    stamp: str  # the footer's build line


def render_area_bulletin(report: AreaReport, issue: Issue, out: str | os.PathLike[str] | BinaryIO,
                         lang: Lang = "zh") -> None:
    """Write the bulletin of ``report`` (the province, or one county) in ``lang``."""
    styles = make_styles(lang)
    frame = Frame(MARGIN, BOTTOM_MARGIN, CONTENT_WIDTH, BODY_HEIGHT, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)  # fmt: skip
    title = _title(report, lang)
    doc = BaseDocTemplate(
        os.fspath(out) if isinstance(out, str | os.PathLike) else out, pagesize=A4,
        pageTemplates=[PageTemplate("page", [frame])], title=title, author=issue.centre.get(lang),
        creator="Minyi", lang="zh-CN" if lang == "zh" else "en", initialFontName=styles.font)
    head = f"{issue.centre.get(lang)} · {title}"
    doc.build(story(report, issue, lang, styles), canvasmaker=numbered_canvas(furniture(issue.stamp, head, lang,
                                                                                         styles.font)))


def bulletin_name(report: AreaReport, lang: Lang, code: str = "") -> str:
    """``province-zh.pdf``, ``county-C001-en.pdf``."""
    return f"province-{lang}.pdf" if report.scope == "province" else f"county-{code}-{lang}.pdf"


def _title(report: AreaReport, lang: Lang) -> str:
    key = "p_title_province" if report.scope == "province" else "p_title_county"
    return tr(key, lang, area=report.name.get(lang)) + _period(report.period, lang)


def _period(period: str, lang: Lang) -> str:
    """``（2026年10月）``, ``（第2轮）`` for a wave numbered 2, nothing for an analysis without periods."""
    if period == ALL_PERIODS:
        return ""
    label = tr("p_round", lang, n=period) if period.isdigit() else fmt.period_label(period).get(lang)
    return tr("p_period", lang, period=label)


def story(report: AreaReport, issue: Issue, lang: Lang, styles: Styles) -> list[Flowable]:
    flowables = [*_masthead(report, issue, lang, styles), _para(tr("p_key_findings", lang), styles.h1)]
    flowables += [Paragraph(escape(p), styles.bullet, bulletText="●") for p in key_findings(report, lang)]
    sections: list[tuple[str, list[Flowable]]] = [(tr("p_headline", lang), _headlines(report, lang, styles))]
    for index in report.indices:
        sections.append((tr(f"p_section_{report.scope}", lang, index=index.name.get(lang)),
                         _ranking(report, index, lang, styles)))
    sections.append((tr("methods", lang), [_methods(report, lang, styles)]))
    for number, (title, body) in enumerate(sections, start=1):
        # the heading goes to the next page with the chart's title and first part rather than alone
        flowables += [KeepTogether([_para(section_heading(number, title, lang), styles.h1), *body[:3]]), *body[3:]]
    return flowables


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _masthead(report: AreaReport, issue: Issue, lang: Lang, styles: Styles) -> list[Flowable]:
    units = tr(f"p_units_{report.scope}", lang, units=report.units)
    dateline = tr("p_dateline", lang, date=fmt.day(issue.released, lang), n=fmt.integer(report.respondents),
                  units=units)
    return [_para(issue.centre.get(lang), styles.centre),
            HRFlowable(width="100%", thickness=1.6, color=RED, spaceBefore=4, spaceAfter=2),
            _para(_title(report, lang), styles.title), _para(dateline, styles.dateline), Spacer(0, 6)]


# ---- key findings --------------------------------------------------------------------------------


def key_findings(report: AreaReport, lang: Lang) -> list[str]:
    """One sentence per index: the area's estimate and change, then the ranking's top and bottom (and a
    county's place among the counties)."""
    out = []
    for index in report.indices:
        est = report.whole.get(index.id)
        if est is None or est.estimate is None:
            continue
        fields = dict(index=index.name.get(lang), area=report.name.get(lang), value=fmt.estimate(est),
                      ci=fmt.ci(est), change=_change_text(report, index, lang))
        ranked = [r for r in report.rows[index.id] if r.rank is not None]
        if report.scope == "province":
            if not ranked:
                continue
            tiers = [r.tier for r in ranked]
            top, bottom = ranked[0], ranked[-1]
            out.append(sentences([tr("p_point_province", lang, **fields, above=tiers.count("above"),
                                     below=tiers.count("below"), same=len(ranked) - tiers.count("above")
                                     - tiers.count("below"), top=top.name.get(lang),
                                     top_value=fmt.estimate(top.estimate), top_set=_set(top),
                                     bottom=bottom.name.get(lang), bottom_value=fmt.estimate(bottom.estimate),
                                     bottom_set=_set(bottom))], lang))
            continue
        place = report.place.get(index.id)
        parts = []
        if place is not None:
            parts.append(tr("p_point_county", lang, **fields, rank=place.rank, of=place.of,
                            rank_set=f"{place.low}–{place.high}",
                            tier=tr(f"p_point_tier_{place.tier or 'same'}", lang)))
        if len(ranked) > 1:
            parts.append(tr("p_point_county_towns", lang, top=ranked[0].name.get(lang),
                            top_value=fmt.estimate(ranked[0].estimate), bottom=ranked[-1].name.get(lang),
                            bottom_value=fmt.estimate(ranked[-1].estimate)))
        if parts:
            out.append(sentences([("；" if lang == "zh" else "; ").join(parts)], lang))
    return out


def _change_text(report: AreaReport, index: Index, lang: Lang) -> str:
    change = report.whole_change.get(index.id)
    if change is None or change.change is None:
        return ""
    significance = tr("p_significant" if change.significant else "p_not_significant", lang)
    return tr("p_point_change", lang, change=fmt.signed(change.change, index.kind),
              unit=tr(f"change_unit_{index.kind}", lang), significance=significance)


def _set(row: Row) -> str:
    return f"{row.rank_low}–{row.rank_high}" if row.rank_low is not None else fmt.DASH


# ---- tables --------------------------------------------------------------------------------------


def _headlines(report: AreaReport, lang: Lang, styles: Styles) -> list[Flowable]:
    """The headline table, then every index's counties (townships) at a glance."""
    flowables: list[Flowable] = [_headline(report, lang, styles)]
    if report.left_out:
        flowables.append(_para(tr(f"p_note_whole_partial_{report.scope}", lang), styles.note))
    overview = overview_chart(report, lang, styles.font)
    if overview is not None:
        flowables += [_para(tr(f"p_overview_{report.scope}", lang), styles.h2),
                      _para(tr("p_overview_note", lang, whole=tr(f"p_whole_{report.scope}", lang)), styles.caption),
                      overview]
    return flowables


def _headline(report: AreaReport, lang: Lang, styles: Styles) -> Table:
    """Each index's estimate for the area, its CI, change and n; a county's also its rank among the
    counties (of how many), rank set and test against the province."""
    county = report.scope == "county"
    labels = [tr("col_index", lang), tr("p_whole_" + report.scope, lang) if lang == "zh" else report.name.get(lang),
              tr("col_ci", lang), tr("col_vs_previous", lang), tr("col_n", lang)]
    widths = [0.34, 0.13, 0.17, 0.16, 0.20]
    if county:
        labels += [tr("p_col_place", lang), tr("p_col_rank_set", lang), tr("p_col_vs_province", lang)]
        widths = [0.23, 0.11, 0.12, 0.10, 0.07, 0.10, 0.10, 0.17]
    if report.previous is None:  # one period: no change column
        labels, widths = labels[:3] + labels[4:], [widths[0] + widths[3], *widths[1:3], *widths[4:]]
    rows: list[list[Cell]] = []
    for index in report.indices:
        est = report.whole.get(index.id)
        row: list[Cell] = [Paragraph(escape(index.label(lang)), styles.cell),
                           fmt.estimate(est) + (LEFT_OUT if report.left_out else ""), fmt.ci(est),
                           fmt.change(report.whole_change.get(index.id), index.kind),
                           fmt.integer(est.n) if est else "0"]
        if county:
            place = report.place.get(index.id)
            row += [tr("p_place", lang, rank=place.rank, of=place.of), f"{place.low}–{place.high}",
                    Paragraph(escape(tr(f"p_tier_{place.tier}", lang)), styles.cell) if place.tier else fmt.DASH,
                    ] if place else [fmt.DASH] * 3
        rows.append(row if report.previous else row[:3] + row[4:])
    return grid(labels, rows, [w * CONTENT_WIDTH for w in widths], styles, 1, left=[len(labels) - 1] if county else [])


def _ranking(report: AreaReport, index: Index, lang: Lang, styles: Styles) -> list[Flowable]:
    flowables: list[Flowable] = []
    charts = ranking_charts(report, index, lang, styles.font)
    if charts:
        flowables += [_para(tr(f"p_chart_{report.scope}", lang, index=index.name.get(lang)), styles.h2),
                      _para(legend(lang, report.scope), styles.caption), *charts]
    flowables += [Spacer(0, 6), _ranking_table(report, index, lang, styles), *_notes(report, index, lang, styles)]
    return flowables


def _ranking_table(report: AreaReport, index: Index, lang: Lang, styles: Styles) -> Table:
    """Rank, rank set, name, estimate, CI, n, change on the previous period, the test against the province."""
    unit = tr("p_col_county", lang) if report.scope == "province" else tr("col_township", lang)
    labels = [tr("col_rank", lang), tr("p_col_rank_set", lang), unit,
              tr("col_index", lang) + unit_suffix(index.kind, lang), tr("col_ci", lang), tr("col_n", lang),
              tr("col_change", lang), tr("p_col_vs_province", lang)]
    widths = [0.07, 0.10, 0.25, 0.11, 0.12, 0.08, 0.09, 0.18]
    rows = report.rows[index.id]
    cells = [_cells(r, index, lang) for r in rows]
    if report.previous is None:  # one period: no change column
        labels, widths, cells = labels[:6] + labels[7:], [*widths[:2], 0.34, *widths[3:6], 0.18], [
            c[:6] + c[7:] for c in cells]
    grey = [("TEXTCOLOR", (0, i + 1), (-1, i + 1), GREY) for i, r in enumerate(rows) if r.rank is None]
    return grid(labels, cells, [w * CONTENT_WIDTH for w in widths], styles, 3, left=[len(labels) - 1],
                extra=grey, size=7.5)


def _cells(row: Row, index: Index, lang: Lang) -> list[Cell]:
    """Plain strings, not paragraphs: a province has 157 rows an index, and names and tiers are short."""
    name = row.name.get(lang) + (LEFT_OUT if row.partial else "")
    if not row.sampled:
        return [fmt.DASH, fmt.DASH, name, fmt.DASH, fmt.DASH, "0", fmt.DASH, tr("p_unsampled", lang)]
    shown = row.reliability is not Reliability.SUPPRESSED
    value = fmt.estimate(row.estimate) + (FLAG if row.reliability is Reliability.FLAGGED else "") if shown else fmt.DASH
    return [str(row.rank) if row.rank is not None else fmt.DASH, _set(row) if row.rank is not None else fmt.DASH,
            name, value, fmt.ci(row.estimate) if shown else fmt.DASH,
            fmt.integer(row.estimate.n) if row.estimate else "0", fmt.change(row.change, index.kind),
            tr(f"p_tier_{row.tier}", lang) if shown and row.tier else fmt.DASH]


def _notes(report: AreaReport, index: Index, lang: Lang, styles: Styles) -> list[Flowable]:
    rows = report.rows[index.id]
    units = tr(f"p_units_word_{report.scope}", lang)
    notes = [tr("p_note_table", lang, units=units)] + ([tr("p_note_change", lang)] if report.previous else [])
    if any(r.partial for r in rows):
        notes.append(tr("p_note_partial", lang))
    if any(r.reliability is Reliability.FLAGGED for r in rows):
        notes.append(tr("note_flagged", lang, **rule_fields_of(report.rule)))
    if any(r.sampled and r.rank is None for r in rows):
        notes.append(tr("p_note_withheld", lang))
    empty = [r.name.get(lang) for r in rows if not r.sampled]
    if empty:
        notes.append(tr("p_note_unsampled", lang, names=join_and(empty, lang)))
    return [_para(n, styles.note) for n in notes]


# ---- methods -------------------------------------------------------------------------------------


def methods_items(report: AreaReport, lang: Lang) -> list[tuple[str, str]]:
    """(label, text) pairs of the 调查说明 box."""
    data = tr(f"p_m_data_{report.scope}", lang, n=fmt.integer(report.respondents), units=report.units,
              towns=fmt.integer(report.townships))
    return [
        (tr("p_m_data", lang), data),
        (tr("m_coverage", lang), _coverage(report, lang)),
        (tr("p_m_weighting", lang), report.method.text(lang)),
        (tr("p_m_ranks", lang), tr("p_m_ranks_text", lang)),
        (tr("p_m_tests", lang), tr("p_m_tests_text", lang)),
        (tr("m_rule", lang), tr("p_m_rule_text", lang, units=tr(f"p_units_word_{report.scope}", lang),
                                **rule_fields_of(report.rule))),
    ]


def _coverage(report: AreaReport, lang: Lang) -> str:
    if not report.left_out:
        return tr("p_m_coverage_all", lang)
    names = join_and([report.name_of(code, lang) for code in report.left_out], lang)
    one = "_one" if len(report.left_out) == 1 else ""
    if report.scope == "province":
        return tr(f"p_m_coverage_province{one}", lang, count=len(report.left_out),
                  share=fmt.rate(report.left_out_share), names=names)
    return tr(f"p_m_coverage_county{one}", lang, names=names,
              population=fmt.integer(round(report.left_out_population)))


def _methods(report: AreaReport, lang: Lang, styles: Styles) -> Table:
    return disclosure_box(methods_items(report, lang), lang, styles)


def write_bulletins(reports: list[tuple[str, AreaReport]], issue: Issue, directory: Path,
                    languages: tuple[Lang, ...], jobs: int = 1) -> list[Path]:
    """Each report in each language into ``directory``; ``reports`` pairs a county code ("" for the province)
    with its report. With ``jobs`` > 1 the bulletins are drawn by that many processes at once (a province's
    157 county bulletins are independent, and drawing one is all CPU in reportlab)."""
    directory.mkdir(parents=True, exist_ok=True)
    work = [(report, issue, directory / bulletin_name(report, lang, code), lang)
            for code, report in reports for lang in languages]
    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(min(jobs, len(work)), mp_context=get_context("spawn")) as pool:
            return list(pool.map(_write_one, work, chunksize=max(1, len(work) // (4 * jobs))))
    return [_write_one(item) for item in work]


def _write_one(item: tuple[AreaReport, Issue, Path, Lang]) -> Path:
    report, issue, path, lang = item
    render_area_bulletin(report, issue, path, lang)
    return path
