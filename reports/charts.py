"""Vector charts drawn with reportlab.graphics in the bulletin font.

Township chart: one row per published township, sorted, point and 95% CI bar, county line.
Trend chart: the county index over the trend periods, with the 95% CI as a shaded band.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, PolyLine, Rect, String

from analysis.results import Estimate
from reports.bulletin_data import BulletinData, IndexDefinition, Lang
from reports.i18n import index_label, tr
from reports.reliability import Reliability, TownshipRow, points, township_rows
from reports.styles import ACCENT, BAND, CONTENT_WIDTH, GREY, INK, RED, SHADE

ROW = 11.0  # points per township row
MAX_ROWS = 46  # rows per drawing, so that one drawing fits a page
LABEL_WIDTH = 112.0
AXIS = 22.0  # room for the tick labels under a plot
FONT_SIZE = 7.0


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    x0: float
    x1: float

    def __call__(self, value: float) -> float:
        return self.x0 + (value - self.low) / (self.high - self.low) * (self.x1 - self.x0)


def nice_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Round tick values covering [low, high], at most ``most`` of them."""
    span = max(high - low, 1e-9)
    step = next((s for s in (0.5, 1, 2, 2.5, 5, 10, 20, 25, 50) if span / s <= most - 1), 100.0)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def _bounds(
    values: Sequence[float], pad: float, clip: tuple[float, float] = (0.0, 100.0)
) -> tuple[float, float]:
    ticks = nice_ticks(max(min(values) - pad, clip[0]), min(max(values) + pad, clip[1]))
    return ticks[0], ticks[-1]


def township_charts(data: BulletinData, index: IndexDefinition, lang: Lang, font: str) -> list[Drawing]:
    """Published townships, best first, split into drawings of at most MAX_ROWS rows."""
    rows = [r for r in township_rows(data, index.id) if r.reliability is not Reliability.SUPPRESSED]
    if not rows:
        return []
    county = data.estimate(index.id)
    ends = [v for r in rows for v in _interval(r.estimate, index.kind)[1:]]
    if county is not None and county.estimate is not None:
        ends.append(points(county.estimate, index.kind))
    low, high = _bounds(ends, 1.0)
    chunks = [rows[i : i + MAX_ROWS] for i in range(0, len(rows), MAX_ROWS)]
    return [_township_drawing(data, chunk, county, (low, high), index, lang, font) for chunk in chunks]


def _township_drawing(
    data: BulletinData,
    rows: list[TownshipRow],
    county: Estimate | None,
    bounds: tuple[float, float],
    index: IndexDefinition,
    lang: Lang,
    font: str,
) -> Drawing:
    height = AXIS + ROW * len(rows) + 16
    drawing = Drawing(CONTENT_WIDTH, height, initialFontName=font)
    scale = Scale(*bounds, LABEL_WIDTH + 6, CONTENT_WIDTH - 8)
    top = height - 16
    for i in range(1, len(rows), 2):
        drawing.add(
            Rect(scale.x0, top - ROW * (i + 1), scale.x1 - scale.x0, ROW, fillColor=SHADE, strokeColor=None)
        )
    _x_axis(drawing, scale, AXIS, top, font)
    for i, row in enumerate(rows):
        y = top - ROW * (i + 0.5)
        _township_mark(drawing, row, y, scale, index.kind)
        name = data.township_name(row.code, lang)
        drawing.add(
            String(
                LABEL_WIDTH, y - 2.5, name, fontName=font, fontSize=FONT_SIZE, fillColor=INK, textAnchor="end"
            )
        )
    if county is not None and county.estimate is not None:
        x = scale(points(county.estimate, index.kind))
        drawing.add(Line(x, AXIS, x, top, strokeColor=RED, strokeWidth=0.8, strokeDashArray=[3, 2]))
        label = f"{tr('county', lang)} {points(county.estimate, index.kind):.1f}"
        drawing.add(
            String(x, top + 4, label, fontName=font, fontSize=FONT_SIZE, fillColor=RED, textAnchor="middle")
        )
    return drawing


def _interval(est: Estimate | None, kind: str) -> tuple[float, float, float]:
    """Estimate, CI low and CI high in points; a missing CI collapses onto the estimate."""
    if est is None or est.estimate is None:
        raise ValueError("only published estimates are charted")
    value = points(est.estimate, kind)
    low = points(est.ci_low, kind) if est.ci_low is not None else value
    high = points(est.ci_high, kind) if est.ci_high is not None else value
    return value, low, high


def _township_mark(drawing: Drawing, row: TownshipRow, y: float, scale: Scale, kind: str) -> None:
    value, low, high = (scale(v) for v in _interval(row.estimate, kind))
    drawing.add(Line(low, y, high, y, strokeColor=ACCENT, strokeWidth=1.1))
    for x in (low, high):
        drawing.add(Line(x, y - 2, x, y + 2, strokeColor=ACCENT, strokeWidth=0.8))
    flagged = row.reliability is Reliability.FLAGGED
    drawing.add(
        Circle(value, y, 2.6, strokeColor=ACCENT, strokeWidth=1, fillColor=None if flagged else ACCENT)
    )


def _x_axis(drawing: Drawing, scale: Scale, bottom: float, top: float, font: str) -> None:
    for tick in nice_ticks(scale.low, scale.high):
        x = scale(tick)
        drawing.add(Line(x, bottom, x, top, strokeColor=GREY, strokeWidth=0.25))
        drawing.add(
            String(
                x,
                bottom - 10,
                f"{tick:g}",
                fontName=font,
                fontSize=FONT_SIZE,
                fillColor=GREY,
                textAnchor="middle",
            )
        )
    drawing.add(Line(scale.x0, bottom, scale.x1, bottom, strokeColor=INK, strokeWidth=0.6))


def trend_chart(data: BulletinData, lang: Lang, font: str) -> Drawing | None:
    """One full-width panel per index with at least two periods of county estimates."""
    panels = [(index, series) for index in data.indices if len(series := _series(data, index)) >= 2]
    if not panels:
        return None
    panel_height = 112.0
    drawing = Drawing(CONTENT_WIDTH, panel_height * len(panels), initialFontName=font)
    for i, (index, series) in enumerate(panels):
        _trend_panel(
            drawing, data, index, series, panel_height * (len(panels) - 1 - i), panel_height, lang, font
        )
    return drawing


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


def _trend_panel(
    drawing: Drawing,
    data: BulletinData,
    index: IndexDefinition,
    series: list[TrendPoint],
    y0: float,
    height: float,
    lang: Lang,
    font: str,
) -> None:
    values = [v for p in series for v in (p.low, p.high, p.value) if v is not None]
    low, high = _bounds(values, 0.5)
    plot_bottom, plot_top = y0 + 22, y0 + height - 30
    x0, x1 = 30.0, CONTENT_WIDTH - 4
    inset = 26.0  # keeps the first and last value labels clear of the axis labels and the edge
    step = (x1 - x0 - 2 * inset) / (len(series) - 1)
    xs = [x0 + inset + i * step for i in range(len(series))]

    def y(value: float) -> float:
        return plot_bottom + (value - low) / (high - low) * (plot_top - plot_bottom)

    drawing.add(
        String(0, y0 + height - 12, index_label(index, lang), fontName=font, fontSize=8.5, fillColor=INK)
    )
    for tick in nice_ticks(low, high, most=5):
        drawing.add(Line(x0, y(tick), x1, y(tick), strokeColor=GREY, strokeWidth=0.25))
        drawing.add(
            String(
                x0 - 4,
                y(tick) - 2.5,
                f"{tick:g}",
                fontName=font,
                fontSize=FONT_SIZE,
                fillColor=GREY,
                textAnchor="end",
            )
        )
    band = [
        (x, p.low, p.high)
        for x, p in zip(xs, series, strict=True)
        if p.low is not None and p.high is not None
    ]
    if len(band) >= 2:
        upper = [c for x, _, hi in band for c in (x, y(hi))]
        lower = [c for x, lo, _ in reversed(band) for c in (x, y(lo))]
        drawing.add(Polygon(upper + lower, fillColor=BAND, strokeColor=None))
    drawing.add(
        PolyLine(
            [c for x, p in zip(xs, series, strict=True) for c in (x, y(p.value))],
            strokeColor=ACCENT,
            strokeWidth=1.3,
        )
    )
    for i, (x, p) in enumerate(zip(xs, series, strict=True)):
        drawing.add(Circle(x, y(p.value), 2.2, fillColor=ACCENT, strokeColor=None))
        label_y = y(p.high if p.high is not None else p.value) + 3  # above the band, clear of the line
        drawing.add(
            String(
                x, label_y, f"{p.value:.1f}", fontName=font, fontSize=6.5, fillColor=INK, textAnchor="middle"
            )
        )
        if i % _label_every(len(series)) == 0 or i == len(series) - 1:
            drawing.add(
                String(
                    x,
                    y0 + 8,
                    data.periods.label(p.period, lang),
                    fontName=font,
                    fontSize=FONT_SIZE,
                    fillColor=GREY,
                    textAnchor="middle",
                )
            )


def _label_every(count: int) -> int:
    """Label every period up to 9 periods, then thin the labels so that they do not collide."""
    return 1 if count <= 9 else math.ceil(count / 9)
