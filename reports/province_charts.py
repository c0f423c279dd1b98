"""The provincial (and county) bulletin's dot-and-interval charts, legible for 157 rows.

One row per published county (township), best first, labelled with its rank; the point coloured by
the test against the province (above, below, not shown to differ), its 95% CI as a bar and the
area's own estimate as a dashed line. Rows split into drawings of at most ``ROWS_PER_DRAWING`` on one scale,
so a province's 157 counties take three drawings, one a page, each row 11 points high.
"""

from __future__ import annotations

from reportlab.graphics.shapes import Circle, Drawing, Line
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.bulletin_data import Lang
from reports.charts import (
    FONT_SIZE,
    LABEL_WIDTH,
    MAX_LABEL_WIDTH,
    ROW,
    Pen,
    Scale,
    axis_bounds,
    interval_frame,
    nice_ticks,
    reference_line,
    row_label,
)
from reports.i18n import tr
from reports.province_data import AreaReport, Index, Row
from reports.reliability import Reliability, finite, points
from reports.styles import ACCENT, CONTENT_WIDTH, DOWN, GREY, RED, UP

STRIP_HEIGHT = 42.0  # one index's strip in the overview
ROWS_PER_DRAWING = 55  # the most rows of a drawing that fits a page under a section's heading and the chart's title
TIER_COLOURS: dict[str | None, Color] = {"above": UP, "below": DOWN, "same": ACCENT, None: GREY}


def ranking_charts(report: AreaReport, index: Index, lang: Lang, font: str) -> list[Drawing]:
    """The published rows of ``index``, best first, in drawings of at most ROWS_PER_DRAWING rows on one scale."""
    rows = [r for r in report.rows[index.id] if r.reliability is not Reliability.SUPPRESSED and r.estimate]
    if not rows:
        return []
    whole = report.whole.get(index.id)
    line = points(whole.estimate, index.kind) if whole and finite(whole.estimate) else None
    ends = [v for r in rows for v in _interval(r, index.kind)] + ([line] if line is not None else [])
    bounds = axis_bounds(ends, 1.0)
    labels = [_label(r, lang) for r in rows]
    label_width = min(max(LABEL_WIDTH, *(float(stringWidth(t, font, FONT_SIZE)) for t in labels)), MAX_LABEL_WIDTH)
    chunks = even_chunks(len(rows), ROWS_PER_DRAWING)
    return [_drawing([rows[i] for i in chunk], [labels[i] for i in chunk], line, bounds, report, index, lang,
                     font, label_width) for chunk in chunks]


def even_chunks(count: int, most: int) -> list[range]:
    """``count`` rows in as few chunks of at most ``most`` as will do, as even as can be: 157 rows as
    53 + 52 + 52, not 55 + 55 + 47 (a last drawing of a few rows) or 53 + 53 + 51."""
    parts = -(-count // most)
    size, longer = divmod(count, parts)
    starts = [i * size + min(i, longer) for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(starts, starts[1:], strict=False)]


def _label(row: Row, lang: Lang) -> str:
    return f"{row.rank}  {row.name.get(lang)}{'†' if row.partial else ''}"


def _interval(row: Row, kind: str) -> tuple[float, float, float]:
    """Estimate, CI low and CI high in points; a missing CI collapses onto the estimate."""
    est = row.estimate
    if est is None or not finite(est.estimate):
        raise ValueError("only published estimates are charted")
    value = points(est.estimate, kind)
    if not finite(est.ci_low) or not finite(est.ci_high):
        return value, value, value
    return value, points(est.ci_low, kind), points(est.ci_high, kind)


def _drawing(rows: list[Row], labels: list[str], line: float | None, bounds: tuple[float, float],
             report: AreaReport, index: Index, lang: Lang, font: str, label_width: float) -> Drawing:
    pen, scale, top = interval_frame(len(rows), bounds, font, label_width)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = top - ROW * (i + 0.5)
        _mark(pen.drawing, row, y, scale, index.kind)
        row_label(pen, label_width, y, label)
    if line is not None:
        x = reference_line(pen, scale(line), top)
        mark = "†" if report.left_out else ""
        pen.text(x, top + 4, f"{report.name.get(lang)} {line:.1f}{mark}", color=RED, anchor="middle")
    return pen.drawing


def _mark(drawing: Drawing, row: Row, y: float, scale: Scale, kind: str) -> None:
    value, low, high = (scale(v) for v in _interval(row, kind))
    low, high = max(low, scale.start), min(high, scale.end)
    colour = TIER_COLOURS.get(row.tier, GREY)
    drawing.add(Line(low, y, high, y, strokeColor=colour, strokeWidth=1.1))
    for x in (low, high):
        drawing.add(Line(x, y - 2, x, y + 2, strokeColor=colour, strokeWidth=0.8))
    hollow = row.reliability is Reliability.FLAGGED
    drawing.add(Circle(value, y, 2.6, strokeColor=colour, strokeWidth=1, fillColor=None if hollow else colour))


def legend(lang: Lang, scope: str) -> str:
    """The caption under a chart's title: what the colours and the line mean."""
    return tr("p_chart_note", lang, whole=tr(f"p_whole_{scope}", lang))


def overview_chart(report: AreaReport, lang: Lang, font: str) -> Drawing | None:
    """Every index in one strip each: each county (township) a tick on the index's own axis, coloured by
    its test against the province, and the area's estimate as a red line; where they lie and how many
    differ, before the pages of each index."""
    panels = [(index, rows) for index in report.indices
              if (rows := [r for r in report.rows[index.id] if r.rank is not None and r.estimate])]
    if not panels:
        return None
    names = [index.label(lang) for index, _ in panels]
    label_width = min(max(float(stringWidth(n, font, FONT_SIZE)) for n in names) + 8, MAX_LABEL_WIDTH)
    pen = Pen(Drawing(CONTENT_WIDTH, STRIP_HEIGHT * len(panels), initialFontName=font), font)
    for k, ((index, rows), name) in enumerate(zip(panels, names, strict=True)):
        bottom = STRIP_HEIGHT * (len(panels) - 1 - k)
        values = [_interval(r, index.kind)[0] for r in rows]
        whole = report.whole.get(index.id)
        line = points(whole.estimate, index.kind) if whole and finite(whole.estimate) else None
        scale = Scale(*axis_bounds(values + ([line] if line is not None else []), 1.0), label_width,
                      CONTENT_WIDTH - 8)
        _strip(pen, scale, bottom, rows, values, line)
        row_label(pen, label_width - 8, bottom + 20, name)
    return pen.drawing


def _strip(pen: Pen, scale: Scale, bottom: float, rows: list[Row], values: list[float], line: float | None) -> None:
    axis = bottom + 12
    pen.drawing.add(Line(scale.start, axis, scale.end, axis, strokeColor=GREY, strokeWidth=0.5))
    for tick in nice_ticks(scale.low, scale.high):
        pen.drawing.add(Line(scale(tick), axis - 2, scale(tick), axis, strokeColor=GREY, strokeWidth=0.5))
        pen.text(scale(tick), axis - 9, f"{tick:g}", size=6, anchor="middle")
    for row, value in zip(rows, values, strict=True):
        x = scale(value)
        pen.drawing.add(Line(x, axis + 3, x, axis + 15, strokeColor=TIER_COLOURS.get(row.tier, GREY),
                             strokeWidth=0.7))
    if line is not None:
        x = scale(line)
        pen.drawing.add(Line(x, axis + 1, x, axis + 18, strokeColor=RED, strokeWidth=1, strokeDashArray=[2, 1.5]))
        pen.text(x, axis + 19, f"{line:.1f}", size=6, color=RED, anchor="middle")
