"""The periodic PDF opinion bulletin (Chinese first, English on request).

Order, after ONS bulletins and the NBS 附注: masthead → 要点 → headline indices (and any outside
benchmark) → county trend → one section per index by township → residents' concerns →
调查说明 → annex of completes by township.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    HRFlowable,
    PageTemplate,
    Paragraph,
    Spacer,
)

from reports import formatting as fmt
from reports.bulletin_data import BulletinData, IndexDefinition, Lang
from reports.charts import township_charts, trend_chart
from reports.concerns import concerns_section
from reports.highlights import main_points
from reports.i18n import join_and, section_heading, tr
from reports.methods import left_out_note, methods_box, rule_fields
from reports.page import numbered_canvas, page_decorator
from reports.reliability import Reliability, finite, township_rows
from reports.styles import BOTTOM_MARGIN, CONTENT_WIDTH, MARGIN, PAGE_HEIGHT, RED, Styles, make_styles
from reports.tables import (
    benchmark_table,
    completes_table,
    county_marked,
    headline_table,
    township_cells,
    township_table,
    undefined_design_effect,
)

BODY_HEIGHT = PAGE_HEIGHT - MARGIN - BOTTOM_MARGIN
TABLE_START = 100.0  # a table starts on a new page rather than with fewer than ~5 rows


def render_bulletin(data: BulletinData, out: str | os.PathLike[str] | BinaryIO, lang: Lang = "zh") -> None:
    """Write the bulletin for ``data`` in ``lang`` to a path or a binary file object."""
    styles = make_styles(lang)
    frame = Frame(MARGIN, BOTTOM_MARGIN, CONTENT_WIDTH, BODY_HEIGHT, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)  # fmt: skip
    doc = BaseDocTemplate(
        os.fspath(out) if isinstance(out, str | os.PathLike) else out,  # reportlab wants str, not Path
        pagesize=A4,
        pageTemplates=[PageTemplate("page", [frame])],
        title=_title(data, lang),
        author=data.centre.get(lang),
        subject=data.periods.label(data.periods.current, lang),
        creator=f"Minyi {data.build.software_version}",
        lang="zh-CN" if lang == "zh" else "en",
        initialFontName=styles.font,  # keeps the standard Helvetica out of the PDF
    )
    canvas = numbered_canvas(page_decorator(data, lang, styles.font))
    doc.build(story(data, lang, styles), canvasmaker=canvas)


def render_issue(data: BulletinData, directory: str | os.PathLike[str]) -> list[Path]:
    """The issue in each of its languages, as ``bulletin-<period>-<issue>-<lang>.pdf``."""
    paths = []
    for lang in data.languages:
        path = Path(directory) / f"bulletin-{data.periods.current}-{data.issue:03d}-{lang}.pdf"
        render_bulletin(data, path, lang)
        paths.append(path)
    return paths


def _title(data: BulletinData, lang: Lang) -> str:
    return tr(
        "title", lang, title=data.title.get(lang), period=data.periods.label(data.periods.current, lang)
    )


def story(data: BulletinData, lang: Lang, styles: Styles) -> list[Flowable]:
    sections: list[tuple[str, list[Flowable]]] = [
        (tr("headline", lang), _headline(data, lang, styles)),
        (tr("trend", lang), _trend(data, lang, styles)),
        *((tr("township_section", lang, index=i.name.get(lang)), _township(data, i, lang, styles))
          for i in data.indices),
        (tr("concerns", lang), concerns_section(data, lang, styles)),
        (tr("methods", lang), [methods_box(data, lang, styles)]),
    ]  # fmt: skip
    flowables = [*_masthead(data, lang, styles), *_main_points(data, lang, styles)]
    for number, (title, body) in enumerate(sections, start=1):
        flowables += [_para(section_heading(number, title, lang), styles.h1), *body]
    annex = [_para(tr("completes_annex", lang), styles.h1), completes_table(data, lang, styles)]
    return flowables + annex


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _masthead(data: BulletinData, lang: Lang, styles: Styles) -> list[Flowable]:
    dateline = [tr("released", lang, date=fmt.day(data.release_date, lang))]
    if data.next_release:
        dateline.append(tr("next_release", lang, date=fmt.day(data.next_release, lang)))
    if data.contact:
        dateline.append(tr("contact", lang, contact=data.contact.get(lang)))
    return [
        _para(data.centre.get(lang), styles.centre),
        _para(tr("issue", lang, issue=data.issue), styles.issue),
        HRFlowable(width="100%", thickness=1.6, color=RED, spaceBefore=4, spaceAfter=2),
        _para(_title(data, lang), styles.title),
        _para("　".join(dateline) if lang == "zh" else " · ".join(dateline), styles.dateline),
        Spacer(0, 6),
    ]


def _main_points(data: BulletinData, lang: Lang, styles: Styles) -> list[Flowable]:
    bullets = [Paragraph(escape(p), styles.bullet, bulletText="●") for p in main_points(data, lang)]
    return [_para(tr("main_points", lang), styles.h1), *bullets]


def _headline(data: BulletinData, lang: Lang, styles: Styles) -> list[Flowable]:
    flowables: list[Flowable] = [
        headline_table(data, lang, styles),
        _para(tr("note_units", lang), styles.note),
        _para(tr("note_significance", lang), styles.note),
    ]
    if undefined_design_effect(data):
        flowables.append(_para(tr("note_deff", lang), styles.note))
    if data.left_out:
        flowables.append(_para(left_out_note(data, lang, marked=county_marked(data)), styles.note))
    if data.benchmarks:
        flowables += [
            _para(tr("benchmark", lang), styles.h2),
            benchmark_table(data, lang, styles),
            _para(tr("benchmark_note", lang), styles.note),
        ]
    return flowables


def _trend(data: BulletinData, lang: Lang, styles: Styles) -> list[Flowable]:
    chart = trend_chart(data, lang, styles.font)
    if chart is None:
        return [_para(tr("trend_single", lang), styles.body)]
    return [_para(tr("chart_trend_note", lang), styles.caption), chart]


def _township(data: BulletinData, index: IndexDefinition, lang: Lang, styles: Styles) -> list[Flowable]:
    flowables: list[Flowable] = []
    charts = township_charts(data, index, lang, styles.font)
    if charts:
        flowables += [
            _para(tr("chart_townships", lang, index=index.name.get(lang)), styles.h2),
            _para(tr("chart_townships_note", lang), styles.caption),
            *charts,
        ]
    flowables += [
        CondPageBreak(TABLE_START),
        Spacer(0, 6),
        township_table(data, index, lang, styles),
        *_township_notes(data, index, lang, styles),
    ]
    return flowables


def _township_notes(data: BulletinData, index: IndexDefinition, lang: Lang, styles: Styles) -> list[Flowable]:
    rows = township_rows(data, index.id)
    fields = rule_fields(data)
    withheld = [data.township_name(r.code, lang) for r in rows if r.reliability is Reliability.SUPPRESSED]
    notes = []
    if withheld:
        names = join_and(withheld, lang)
        notes.append(tr("note_suppressed", lang, names=names, **fields))
    if any(r.reliability is Reliability.FLAGGED for r in rows):
        notes.append(tr("note_flagged", lang, **fields))
    tested = len(data.ranks_for(index.id)) or len(rows) - len(withheld)  # the townships Holm adjusted over
    if len(rows) > len(withheld):
        notes.append(tr("note_rank", lang, towns=tested, scale=tr(f"scale_{index.kind}", lang)))
    crossed = interval_without_county(data, index.id)
    if crossed:
        names = join_and([data.township_name(code, lang) for code in crossed], lang)
        key = "note_interval_vs_test" if len(crossed) == 1 else "note_interval_vs_test_many"
        notes.append(tr(key, lang, names=names, towns=tested))
    if any(cell == fmt.DASH for row in rows for cell in township_cells(data, index, row, lang, styles)):
        notes.append(tr("note_dash", lang))
    return [_para(note, styles.note) for note in notes]


def interval_without_county(data: BulletinData, index: str) -> list[str]:
    """Codes of published townships "not shown to differ" from the county whose own 95% CI leaves out the
    county estimate: the Holm-adjusted test (and the covariance with the county) is stricter than one CI."""
    county = data.estimate(index)
    value = county.estimate if county else None
    if not finite(value):
        return []
    return [
        row.code
        for row in township_rows(data, index)
        if row.tier == "same" and row.reliability is not Reliability.SUPPRESSED and row.estimate is not None
        and finite(low := row.estimate.ci_low) and finite(high := row.estimate.ci_high)
        and not low <= value <= high
    ]  # fmt: skip
