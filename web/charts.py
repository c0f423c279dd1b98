"""Charts as inline SVG drawn on the server (no CDN, no script: the centres run on closed networks).

``township_chart``: one row per township, the estimate as a dot with its 95% CI as a bar and the
county value as a dashed line. ``trend_chart``: an index over periods as a line with the 95% CI
as a band. Values are on the 0–100 scale (shares already converted by the caller).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape  # quotes too: titles go into attributes

WIDTH = 640
LABEL = 120
ROW = 22
TIER_COLOURS = {"above": "#1a7f37", "same": "#57606a", "below": "#cf222e"}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    low: float | None
    high: float | None
    tier: str = "same"


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None
    low: float | None
    high: float | None


def _scale(values: Sequence[float | None], pad: float = 5.0) -> tuple[float, float]:
    known = [v for v in values if v is not None]
    if not known:
        return 0.0, 100.0
    low, high = max(0.0, min(known) - pad), min(100.0, max(known) + pad)
    if high - low < 10:
        mid = (high + low) / 2
        low, high = max(0.0, mid - 5), min(100.0, mid + 5)
    return low, high


def _x(value: float, low: float, high: float, left: float, width: float) -> float:
    return left + (value - low) / (high - low) * width


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12, cls: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
            f'{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{escape(content)}</text>')


def _label_column(labels: Sequence[str], size: int = 12) -> float:
    """Width of the labels' column: at least LABEL, else the longest label's estimated width (a
    Chinese character is as wide as the font size, a Latin letter about 0.6 of it) and a margin, up
    to half the chart."""
    def width(text: str) -> float:
        return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)
    return min(WIDTH / 2, max([LABEL, *(width(label) + 14 for label in labels)]))


def township_chart(bars: Sequence[Bar], county: float | None, title: str) -> Markup:
    """Dot-and-interval chart, sorted as given."""
    low, high = _scale([v for b in bars for v in (b.low, b.high, b.value)] + [county])
    height = 34 + ROW * len(bars) + 24
    label = _label_column([bar.label for bar in bars])
    plot = WIDTH - label - 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>"]
    for tick in _ticks(low, high):
        x = _x(tick, low, high, label, plot)
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 22}" stroke="#d0d7de"/>')
        parts.append(_text(x, height - 6, f"{tick:g}", anchor="middle", size=10))
    if county is not None:
        x = _x(county, low, high, label, plot)
        parts.append(f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height - 22}" stroke="#0969da" '
                     'stroke-dasharray="4 3"/>')
        parts.append(_text(x, 14, f"{county:.1f}", anchor="middle", size=10, cls="county"))
    for i, bar in enumerate(bars):
        y = 34 + ROW * i + ROW / 2
        parts.append(_text(label - 8, y + 4, bar.label, anchor="end"))
        colour = TIER_COLOURS.get(bar.tier, TIER_COLOURS["same"])
        if bar.low is not None and bar.high is not None:
            x1, x2 = _x(bar.low, low, high, label, plot), _x(bar.high, low, high, label, plot)
            parts.append(f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="{colour}" '
                         'stroke-width="3" stroke-opacity="0.45"/>')
        if bar.value is not None:
            x = _x(bar.value, low, high, label, plot)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>')
        else:
            parts.append(_text(label + 4, y + 4, "—", size=11))
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(points: Sequence[Point], title: str, height: int = 220) -> Markup:
    """Line with a CI band over periods (left to right as given)."""
    low, high = _scale([v for p in points for v in (p.low, p.high, p.value)])
    left, right, top, bottom, inset = 44, 16, 16, 30, 36
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = (plot_w - 2 * inset) / max(len(points) - 1, 1)
    first = left + inset if len(points) > 1 else left + plot_w / 2

    def y(v: float) -> float:
        return top + (high - v) / (high - low) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>"]
    for tick in _ticks(low, high):
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{WIDTH - right}" y2="{y(tick):.1f}" stroke="#d0d7de"/>')
        parts.append(_text(left - 6, y(tick) + 4, f"{tick:g}", anchor="end", size=10))
    band = [p for p in points if p.low is not None and p.high is not None]
    if len(band) > 1:
        xs = {p.label: first + step * i for i, p in enumerate(points)}
        upper = " ".join(f"{xs[p.label]:.1f},{y(p.high):.1f}" for p in band)  # type: ignore[arg-type]
        lower = " ".join(f"{xs[p.label]:.1f},{y(p.low):.1f}" for p in reversed(band))  # type: ignore[arg-type]
        parts.append(f'<polygon points="{upper} {lower}" fill="#0969da" fill-opacity="0.15"/>')
    line = [(first + step * i, y(p.value)) for i, p in enumerate(points) if p.value is not None]
    if len(line) > 1:
        parts.append('<polyline fill="none" stroke="#0969da" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{v:.1f}" for x, v in line) + '"/>')
    for i, p in enumerate(points):
        x = first + step * i
        if len(band) == 1 and p.low is not None and p.high is not None:
            parts.append(f'<line x1="{x:.1f}" y1="{y(p.low):.1f}" x2="{x:.1f}" y2="{y(p.high):.1f}" '
                         'stroke="#0969da" stroke-width="3" stroke-opacity="0.35"/>')
        if p.value is not None:
            parts.append(f'<circle cx="{x:.1f}" cy="{y(p.value):.1f}" r="3.5" fill="#0969da"/>')
            parts.append(_text(x, y(p.value) - 8, f"{p.value:.1f}", anchor="middle", size=10))
        parts.append(_text(x, height - 10, p.label, anchor="middle", size=11))
    parts.append("</svg>")
    return Markup("".join(parts))


def _ticks(low: float, high: float) -> list[float]:
    span = high - low
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50) if span / s <= 6)
    first = -(-low // step) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(value)
        value += step
    return ticks
