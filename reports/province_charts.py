"""The provincial (and county) bulletin's dot-and-interval charts, legible for 157 rows.

One row per published county (township), best first, labelled with its rank; the point coloured by
the test against the province (above, below, not shown to differ), its 95% CI as a bar and the
area's own estimate as a dashed line. Rows split into drawings of at most ``MAX_ROWS`` on one scale,
so a province's 157 counties take three drawings, one a page, each row 11 points high.
"""

from __future__ import annotations

from reportlab.graphics.shapes import Circle, Drawing, Line, Rect
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.bulletin_data import Lang
from reports.charts import (
    AXIS,
    FONT_SIZE,
    LABEL_WIDTH,
    MAX_LABEL_WIDTH,
    MAX_ROWS,
    ROW,
    Pen,
    Scale,
    axis_bounds,
    row_label,
    x_axis,
)
from reports.i18n import tr
from reports.province_data import AreaReport, Index, Row
from reports.reliability import Reliability, finite, points
from reports.styles import ACCENT, CONTENT_WIDTH, DOWN, GREY, RED, SHADE, UP

TIER_COLOURS: dict[str | None, Color] = {"above": UP, "below": DOWN, "same": ACCENT, None: GREY}


def ranking_charts(report: AreaReport, index: Index, lang: Lang, font: str) -> list[Drawing]:
    """The published rows of ``index``, best first, in drawings of at most MAX_ROWS rows on one scale."""
    rows = [r for r in report.rows[index.id] if r.reliability is not Reliability.SUPPRESSED and r.estimate]
    if not rows:
        return []
    whole = report.whole.get(index.id)
    line = points(whole.estimate, index.kind) if whole and finite(whole.estimate) else None
    ends = [v for r in rows for v in _interval(r, index.kind)] + ([line] if line is not None else [])
    bounds = axis_bounds(ends, 1.0)
    labels = [_label(r, lang) for r in rows]
    label_width = min(max(LABEL_WIDTH, *(float(stringWidth(t, font, FONT_SIZE)) for t in labels)), MAX_LABEL_WIDTH)
    chunks = [range(i, min(i + MAX_ROWS, len(rows))) for i in range(0, len(rows), MAX_ROWS)]
    return [_drawing([rows[i] for i in chunk], [labels[i] for i in chunk], line, bounds, report, index, lang,
                     font, label_width) for chunk in chunks]


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
    height = AXIS + ROW * len(rows) + 16
    top = height - 16
    pen = Pen(Drawing(CONTENT_WIDTH, height, initialFontName=font), font)
    scale = Scale(*bounds, label_width + 6, CONTENT_WIDTH - 8)
    for i in range(1, len(rows), 2):
        pen.drawing.add(Rect(scale.start, top - ROW * (i + 1), scale.end - scale.start, ROW, fillColor=SHADE,
                             strokeColor=None))
    x_axis(pen, scale, AXIS, top)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = top - ROW * (i + 0.5)
        _mark(pen.drawing, row, y, scale, index.kind)
        row_label(pen, label_width, y, label)
    if line is not None:
        x = scale(line)
        pen.drawing.add(Line(x, AXIS, x, top, strokeColor=RED, strokeWidth=0.8, strokeDashArray=[3, 2]))
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
