"""Vector charts drawn with reportlab.graphics in the bulletin font.

Township chart: one row per published township, sorted, point and 95% CI bar, county line.
Trend chart: the county index over the trend periods, with the 95% CI as a shaded band,
one small panel per index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib.colors import Color, white
from reportlab.pdfbase.pdfmetrics import stringWidth

from analysis.results import Estimate
from reports.bulletin_data import BulletinData, IndexDefinition, Lang
from reports.i18n import index_label, tr
from reports.reliability import Reliability, TownshipRow, finite, points, township_rows
from reports.styles import ACCENT, BAND, CONTENT_WIDTH, GREY, INK, RED, SHADE

ROW = 11.0  # points per township row
MAX_ROWS = 58  # rows per drawing, so that one drawing and its title fit a page
LABEL_WIDTH = 112.0  # the least room for township names
MAX_LABEL_WIDTH = 0.4 * CONTENT_WIDTH  # the most: longer names are set smaller
MIN_LABEL_SIZE = 5.0
AXIS = 22.0  # room for the tick labels under a plot
FONT_SIZE = 7.0
PANEL_HEIGHT = 104.0
PANEL_GAP = 18.0
TREND_TICKS = 5  # most gridlines of a trend panel


@dataclass(frozen=True)
class Pen:
    """Writes text into a drawing in the bulletin font."""

    drawing: Drawing
    font: str

    def text(self, x: float, y: float, text: str, *, size: float = FONT_SIZE, color: Color = GREY,
             anchor: str = "start") -> None:  # fmt: skip
        self.drawing.add(
            String(x, y, text, fontName=self.font, fontSize=size, fillColor=color, textAnchor=anchor)
        )

    def width(self, text: str, size: float = FONT_SIZE) -> float:
        return float(stringWidth(text, self.font, size))


@dataclass(frozen=True)
class Scale:
    """Maps data values in [low, high] onto drawing coordinates [start, end]."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def nice_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Round tick values covering [low, high], at least two and at most ``most`` of them: the
    finest round step whose ticks, from the last at or below ``low`` to the first at or above
    ``high``, are few enough. Ticks of ticks are the same ticks, so an axis can take its bounds
    from them and draw them as its gridlines."""
    for step in (0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100):
        first = math.floor(low / step) * step
        count = max(math.ceil(high / step - 1e-9) - math.floor(low / step), 1) + 1
        if count <= most:
            break
    return [first + i * step for i in range(count)]


def axis_bounds(values: Sequence[float], pad: float, most: int = 8) -> tuple[float, float]:
    """Tick-aligned bounds around ``values``, kept within the 0–100 scale of every index: the first
    and last of the ticks (at most ``most``) that the axis then draws."""
    ticks = nice_ticks(max(min(values) - pad, 0.0), min(max(values) + pad, 100.0), most)
    return ticks[0], ticks[-1]


# ---- townships -----------------------------------------------------------------------------------


def township_charts(data: BulletinData, index: IndexDefinition, lang: Lang, font: str) -> list[Drawing]:
    """Published townships, best first, split into drawings of at most MAX_ROWS rows on one scale."""
    rows = [r for r in township_rows(data, index.id) if r.reliability is not Reliability.SUPPRESSED]
    if not rows:
        return []
    county = data.estimate(index.id)
    ends = [v for r in rows for v in _interval(r.estimate, index.kind)[1:]]
    if county is not None and county.estimate is not None:
        ends.append(points(county.estimate, index.kind))
    bounds = axis_bounds(ends, 1.0)
    names = [data.township_name(r.code, lang) for r in rows]
    label_width = min(max(LABEL_WIDTH, *(float(stringWidth(n, font, FONT_SIZE)) for n in names)), MAX_LABEL_WIDTH)
    chunks = [rows[i : i + MAX_ROWS] for i in range(0, len(rows), MAX_ROWS)]
    return [_township_drawing(data, chunk, county, bounds, index, lang, font, label_width) for chunk in chunks]


def _interval(est: Estimate | None, kind: str) -> tuple[float, float, float]:
    """Estimate, CI low and CI high in points; a missing CI collapses onto the estimate."""
    if est is None or est.estimate is None:
        raise ValueError("only published estimates are charted")
    value = points(est.estimate, kind)
    if not finite(est.ci_low) or not finite(est.ci_high):
        return value, value, value
    return value, points(est.ci_low, kind), points(est.ci_high, kind)


def interval_frame(rows: int, bounds: tuple[float, float], font: str, label_width: float) -> tuple[Pen, Scale, float]:
    """A drawing for ``rows`` dot-and-interval rows: every other row shaded, the x axis drawn;
    its pen, its scale and the y of its top row's upper edge."""
    height = AXIS + ROW * rows + 16
    top = height - 16
    pen = Pen(Drawing(CONTENT_WIDTH, height, initialFontName=font), font)
    scale = Scale(*bounds, label_width + 6, CONTENT_WIDTH - 8)
    for i in range(1, rows, 2):
        pen.drawing.add(Rect(scale.start, top - ROW * (i + 1), scale.end - scale.start, ROW, fillColor=SHADE,
                             strokeColor=None))  # fmt: skip
    x_axis(pen, scale, AXIS, top)
    return pen, scale, top


def reference_line(pen: Pen, x: float, top: float) -> float:
    """The dashed red line of the whole area's value, at ``x``."""
    pen.drawing.add(Line(x, AXIS, x, top, strokeColor=RED, strokeWidth=0.8, strokeDashArray=[3, 2]))
    return x


def _township_drawing(
    data: BulletinData,
    rows: list[TownshipRow],
    county: Estimate | None,
    bounds: tuple[float, float],
    index: IndexDefinition,
    lang: Lang,
    font: str,
    label_width: float,
) -> Drawing:
    pen, scale, top = interval_frame(len(rows), bounds, font, label_width)
    for i, row in enumerate(rows):
        y = top - ROW * (i + 0.5)
        _township_mark(pen.drawing, row, y, scale, index.kind)
        row_label(pen, label_width, y, data.township_name(row.code, lang))
    if county is not None and county.estimate is not None:
        value = points(county.estimate, index.kind)
        x = reference_line(pen, scale(value), top)
        mark = "†" if data.left_out else ""
        pen.text(x, top + 4, f"{tr('county', lang)} {value:.1f}{mark}", color=RED, anchor="middle")
    return pen.drawing


def row_label(pen: Pen, right: float, y: float, name: str) -> None:
    """A township name ending at ``right``, set smaller when it would not fit in ``right`` points, and cut
    with "…" only if it does not fit even at MIN_LABEL_SIZE."""
    size = min(FONT_SIZE, FONT_SIZE * right / max(pen.width(name), 1e-9))
    if size < MIN_LABEL_SIZE:
        size = MIN_LABEL_SIZE
        while name and pen.width(name + "…", size) > right:
            name = name[:-1]
        name += "…"
    pen.text(right, y - size * 0.36, name, size=size, color=INK, anchor="end")


def _township_mark(drawing: Drawing, row: TownshipRow, y: float, scale: Scale, kind: str) -> None:
    value, low, high = (scale(v) for v in _interval(row.estimate, kind))
    low, high = max(low, scale.start), min(high, scale.end)  # the axis stops at 0 and 100
    drawing.add(Line(low, y, high, y, strokeColor=ACCENT, strokeWidth=1.1))
    for x in (low, high):
        drawing.add(Line(x, y - 2, x, y + 2, strokeColor=ACCENT, strokeWidth=0.8))
    hollow = row.reliability is Reliability.FLAGGED
    drawing.add(
        Circle(value, y, 2.6, strokeColor=ACCENT, strokeWidth=1, fillColor=None if hollow else ACCENT)
    )


def x_axis(pen: Pen, scale: Scale, bottom: float, top: float) -> None:
    for tick in nice_ticks(scale.low, scale.high):
        x = scale(tick)
        pen.drawing.add(Line(x, bottom, x, top, strokeColor=GREY, strokeWidth=0.25))
        pen.text(x, bottom - 10, f"{tick:g}", anchor="middle")
    pen.drawing.add(Line(scale.start, bottom, scale.end, bottom, strokeColor=INK, strokeWidth=0.6))


# ---- county trend --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    period: str
    value: float  # in points
    low: float | None
    high: float | None


def _series(data: BulletinData, index: IndexDefinition) -> list[TrendPoint]:
    series = []
    for period in data.periods.trend:
        est = data.estimate(index.id, period=period)
        if est is not None and est.estimate is not None:
            low = points(est.ci_low, index.kind) if est.ci_low is not None else None
            high = points(est.ci_high, index.kind) if est.ci_high is not None else None
            series.append(TrendPoint(period, points(est.estimate, index.kind), low, high))
    return series


def trend_chart(data: BulletinData, lang: Lang, font: str) -> Drawing | None:
    """Small multiples, two panels a row, for each index with at least two periods of estimates."""
    panels = [(index, series) for index in data.indices if len(series := _series(data, index)) >= 2]
    if not panels:
        return None
    columns = 1 if len(panels) == 1 else 2
    width = (CONTENT_WIDTH - PANEL_GAP * (columns - 1)) / columns
    rows = math.ceil(len(panels) / columns)
    pen = Pen(Drawing(CONTENT_WIDTH, PANEL_HEIGHT * rows, initialFontName=font), font)
    for i, (index, series) in enumerate(panels):
        row, column = divmod(i, columns)
        origin = (column * (width + PANEL_GAP), PANEL_HEIGHT * (rows - 1 - row))
        _trend_panel(pen, data, index, series, origin, width, lang)
    return pen.drawing


def _trend_panel(
    pen: Pen,
    data: BulletinData,
    index: IndexDefinition,
    series: list[TrendPoint],
    origin: tuple[float, float],
    width: float,
    lang: Lang,
) -> None:
    left, bottom = origin
    low, high = axis_bounds([v for p in series for v in (p.low, p.high, p.value) if v is not None], 0.5, TREND_TICKS)
    y = Scale(low, high, bottom + 22, bottom + PANEL_HEIGHT - 30)
    axis_start, axis_end = left + 24, left + width
    labels = [data.periods.label(p.period, lang) for p in series]
    inset = max(pen.width(label) for label in labels) / 2 + 2  # the end labels stay inside the panel
    step = (axis_end - axis_start - 2 * inset) / (len(series) - 1)
    xs = [axis_start + inset + i * step for i in range(len(series))]

    pen.text(left, bottom + PANEL_HEIGHT - 12, index_label(index, lang), size=8.5, color=INK)
    for tick in nice_ticks(low, high, TREND_TICKS):
        pen.drawing.add(Line(axis_start, y(tick), axis_end, y(tick), strokeColor=GREY, strokeWidth=0.25))
        pen.text(axis_start - 4, y(tick) - 2.5, f"{tick:g}", anchor="end")
    band = [
        (x, p.low, p.high)
        for x, p in zip(xs, series, strict=True)
        if p.low is not None and p.high is not None
    ]
    if len(band) >= 2:
        upper = [c for x, _, hi in band for c in (x, y(hi))]
        lower = [c for x, lo, _ in reversed(band) for c in (x, y(lo))]
        pen.drawing.add(Polygon(upper + lower, fillColor=BAND, strokeColor=None))
    line = [c for x, p in zip(xs, series, strict=True) for c in (x, y(p.value))]
    pen.drawing.add(PolyLine(line, strokeColor=ACCENT, strokeWidth=1.3))
    every = _label_every(labels, step, pen)
    for i, (x, p) in enumerate(zip(xs, series, strict=True)):
        pen.drawing.add(Circle(x, y(p.value), 2.2, fillColor=ACCENT, strokeColor=None))
        above_band = y(p.high if p.high is not None else p.value) + 3
        value = f"{p.value:.1f}"
        half = pen.width(value, 6.5) / 2 + 1  # a white ground, so that a gridline never runs through it
        pen.drawing.add(Rect(x - half, above_band - 1.5, 2 * half, 7.5, fillColor=white, strokeColor=None))
        pen.text(x, above_band, value, size=6.5, color=INK, anchor="middle")
        if (len(series) - 1 - i) % every == 0:
            pen.text(x, bottom + 8, labels[i], anchor="middle")


def _label_every(labels: list[str], step: float, pen: Pen) -> int:
    """Label every k-th period, counted back from the current one, so that labels never touch."""
    widest = max(pen.width(label) for label in labels) + 4
    return max(1, math.ceil(widest / step))
