"""The bulletin's tables: headline indices, townships by index, completes by township."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, Table, TableStyle

from analysis.results import Estimate
from reports import formatting as fmt
from reports.bulletin_data import BulletinData, IndexDefinition, Lang
from reports.i18n import index_label, tr, unit_suffix
from reports.reliability import Reliability, TownshipRow, assess, finite, published_change, township_rows
from reports.styles import CONTENT_WIDTH, GREY, INK, RULE, SHADE, Styles

Cell: TypeAlias = "str | Paragraph"
FLAG = "※"
LEFT_OUT = "†"  # a county estimate that leaves out townships without respondents


def grid(
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    widths: Sequence[float],
    styles: Styles,
    right_from: int,
    left: Sequence[int] = (),
    extra: Sequence[tuple[object, ...]] = (),
    size: float = 8.5,
    padding: float = 6,
) -> Table:
    """A ruled table (rules above and below the header and at the end, no verticals).

    Columns from ``right_from`` on hold numbers and are right-aligned, except those in ``left``.
    Header cells are paragraphs so that long labels wrap instead of overflowing, at a break
    :func:`header_lines` chooses. ``padding`` is each cell's left and right padding, in points.
    """
    right = [i >= right_from and i not in left for i in range(len(header))]
    small = size < 8.5
    head = [
        Paragraph(header_lines(label, styles.font, size, width - 2 * padding),
                  (styles.small_cell_right if small else styles.cell_right) if r
                  else (styles.small_cell if small else styles.cell))
        for label, r, width in zip(header, right, widths, strict=True)
    ]  # fmt: skip
    table = Table([head, *map(list, rows)], colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), styles.font, size, size + 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), padding),
        ("RIGHTPADDING", (0, 0), (-1, -1), padding),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("ALIGN", (right_from, 0), (-1, -1), "RIGHT"),
        *(("ALIGN", (i, 0), (i, -1), "LEFT") for i in left),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, INK),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, INK),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [None, SHADE]),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.8),
        *extra,
    ]))  # fmt: skip
    return table


# where a header label may break, best first: before an opening bracket, after a year, a percent
# sign, a slash or a space; a Chinese label has no spaces, and a break between any two of its
# characters ("95%置信区/间", "较上年同/期") reads badly
_BREAKS = re.compile(r"(?=[（(])|(?<=[年%/ ])")


def header_lines(label: str, font: str, size: float, room: float) -> str:
    """``label`` as a header paragraph's markup: on one line if it fits in ``room`` points, else
    in two at the break of :data:`_BREAKS` whose longer line is shortest (and fits), else as
    written, for the paragraph to wrap."""
    if stringWidth(label, font, size) <= room:
        return escape(label)
    splits = [(label[:m.start()].rstrip(), label[m.start():].lstrip()) for m in _BREAKS.finditer(label)
              if 0 < m.start() < len(label)]
    fitting = [(max(stringWidth(a, font, size), stringWidth(b, font, size)), a, b) for a, b in splits if a and b]
    best = min((f for f in fitting if f[0] <= room), default=None)
    return escape(label) if best is None else f"{escape(best[1])}<br/>{escape(best[2])}"


def marked_estimate(est: Estimate | None, reliability: Reliability) -> str:
    if reliability is Reliability.SUPPRESSED:
        return fmt.DASH
    return fmt.estimate(est) + (FLAG if reliability is Reliability.FLAGGED else "")


def headline_table(data: BulletinData, lang: Lang, styles: Styles) -> Table:
    periods = data.periods
    labels = [
        tr("col_index", lang),
        periods.label(periods.current, lang),
        tr("col_ci", lang),
        tr("col_vs_previous", lang),
        tr("col_vs_last_year", lang),
        tr("col_deff", lang),
        tr("col_n", lang),
    ]
    rows = [_headline_row(data, index, lang, styles) for index in (*data.indices, *data.items)]
    widths = [0.30, 0.12, 0.16, 0.11, 0.11, 0.10, 0.10]
    extra = [("LINEABOVE", (0, len(data.indices) + 1), (-1, len(data.indices) + 1), 0.4, RULE)] if data.items else []
    return grid(labels, rows, [w * CONTENT_WIDTH for w in widths], styles, 1, extra=extra)


def _headline_row(data: BulletinData, index: IndexDefinition, lang: Lang, styles: Styles) -> list[Cell]:
    est = data.estimate(index.id)
    reliability = assess(est, data.rule)
    shown = reliability is not Reliability.SUPPRESSED
    return [
        Paragraph(escape(index_label(index, lang)), styles.cell),
        marked_estimate(est, reliability) + (LEFT_OUT if data.left_out and shown else ""),
        fmt.ci(est) if shown else fmt.DASH,
        fmt.change(published_change(data, index.id, data.periods.previous), index.kind),
        fmt.change(published_change(data, index.id, data.periods.last_year), index.kind),
        fmt.design_effect(est) if shown else fmt.DASH,
        fmt.integer(est.n) if est else "0",
    ]


def county_marked(data: BulletinData) -> bool:
    """Whether the headline table marks a published county estimate † (it leaves out unsampled townships)."""
    return bool(data.left_out) and any(
        assess(data.estimate(index.id), data.rule) is not Reliability.SUPPRESSED
        for index in (*data.indices, *data.items)
    )


def undefined_design_effect(data: BulletinData) -> bool:
    """Whether the headline table shows a published estimate whose design effect is undefined."""
    return any(
        (est := data.estimate(index.id)) is not None
        and not finite(est.deff)
        and assess(est, data.rule) is not Reliability.SUPPRESSED
        for index in (*data.indices, *data.items)
    )


def township_table(data: BulletinData, index: IndexDefinition, lang: Lang, styles: Styles) -> Table:
    """Rank (with its range), township, index, CI, n, the test against the county with its unadjusted
    and Holm-adjusted p, and the change on the previous period with its p-values."""
    labels = [
        tr("col_rank_with_range", lang),
        tr("col_township", lang),
        tr("col_index", lang) + unit_suffix(index.kind, lang),
        tr("col_ci", lang),
        tr("col_n", lang),
        tr("col_tier", lang),
        tr("col_p", lang),
        tr("col_change", lang),
        tr("col_p", lang),
    ]
    rows = township_rows(data, index.id)
    widths = [0.09, 0.25, 0.07, 0.10, 0.05, 0.15, 0.11, 0.07, 0.11]
    withheld = [i + 1 for i, row in enumerate(rows) if row.reliability is Reliability.SUPPRESSED]
    extra = [("TEXTCOLOR", (0, i), (-1, i), GREY) for i in withheld]
    return grid(
        labels,
        [township_cells(data, index, row, lang, styles) for row in rows],
        [w * CONTENT_WIDTH for w in widths],
        styles,
        2,
        left=[5],
        extra=extra,
        size=7.5,
        padding=3,
    )


def township_cells(
    data: BulletinData, index: IndexDefinition, row: TownshipRow, lang: Lang, styles: Styles
) -> list[Cell]:
    """One township's cells; anything undefined (a withheld estimate, no test, no earlier period) is "—"."""
    shown = row.reliability is not Reliability.SUPPRESSED
    rank = str(row.rank) if row.rank is not None else fmt.DASH
    if row.rank_low is not None and row.rank_high is not None:
        rank += f" ({row.rank_low}–{row.rank_high})"
    test = data.rank_for(index.id, row.code) if shown else None
    change = published_change(data, index.id, data.periods.previous, row.code)
    return [
        rank,
        Paragraph(escape(data.township_name(row.code, lang)), styles.small_cell),
        marked_estimate(row.estimate, row.reliability),
        fmt.ci(row.estimate) if shown else fmt.DASH,
        fmt.integer(row.estimate.n) if row.estimate else "0",
        Paragraph(escape(tr(f"tier_{row.tier}", lang)), styles.small_cell) if row.tier and shown else fmt.DASH,
        _p_pair(test.p_value, test.p_adjusted) if test else fmt.DASH,
        fmt.change(change, index.kind),
        _p_pair(change.p_value, change.p_adjusted) if change else fmt.DASH,
    ]


def _p_pair(raw: float | None, adjusted: float | None) -> str:
    """``0.004/0.083``: the unadjusted p, then the Holm-adjusted one."""
    if not finite(raw) and not finite(adjusted):
        return fmt.DASH
    return f"{fmt.p_value(raw)}/{fmt.p_value(adjusted)}"


def completes_table(data: BulletinData, lang: Lang, styles: Styles, groups: int = 3) -> Table:
    """Completed interviews per township, in ``groups`` side-by-side column pairs."""
    counts = data.fieldwork.completes_by_township
    pairs: list[tuple[Cell, Cell]] = [
        (Paragraph(escape(data.township_name(t.code, lang)), styles.cell), fmt.integer(counts.get(t.code, 0)))
        for t in data.townships
    ]
    per_group = -(-len(pairs) // groups)
    rows = []
    for i in range(per_group):
        row: list[Cell] = []
        for g in range(groups):
            row += pairs[g * per_group + i] if g * per_group + i < len(pairs) else ("", "")
        rows.append(row)
    header = [tr("col_township", lang), tr("col_completes", lang)] * groups
    widths = [0.22, 0.113] * groups
    extra = [("LINEAFTER", (2 * g + 1, 0), (2 * g + 1, -1), 0.3, RULE) for g in range(groups - 1)]
    left = [2 * g for g in range(groups)]
    return grid(header, rows, [w * CONTENT_WIDTH for w in widths], styles, 1, left, extra)


def benchmark_table(data: BulletinData, lang: Lang, styles: Styles) -> Table:
    """Outside figures for the county beside the centre's own estimate for the current period."""
    names = {index.id: index for index in data.indices}
    labels = [
        tr("col_index", lang),
        tr("col_source", lang),
        tr("col_period", lang),
        tr("col_province_value", lang),
        tr("col_province_rank", lang),
        tr("col_own_value", lang),
    ]
    rows: list[list[Cell]] = []
    for b in data.benchmarks:
        index = names[b.index]
        own = data.estimate(b.index)
        rank = tr("rank_of", lang, rank=b.rank, of=b.of_counties) if b.rank and b.of_counties else fmt.DASH
        rows.append([
            Paragraph(escape(index.name.get(lang)), styles.cell),
            Paragraph(escape(b.source.get(lang)), styles.cell),
            Paragraph(escape(b.period.get(lang)), styles.cell),
            fmt.value(b.value, index.kind),
            rank,
            _own_estimate(own, data, styles),
        ])  # fmt: skip
    widths = [0.19, 0.25, 0.16, 0.12, 0.12, 0.16]
    return grid(labels, rows, [w * CONTENT_WIDTH for w in widths], styles, 3)


def _own_estimate(est: Estimate | None, data: BulletinData, styles: Styles) -> Cell:
    reliability = assess(est, data.rule)
    if reliability is Reliability.SUPPRESSED:
        return fmt.DASH
    mark = LEFT_OUT if data.left_out else ""
    return Paragraph(f"{marked_estimate(est, reliability)}{mark}<br/>({fmt.ci(est)})", styles.cell_right)
