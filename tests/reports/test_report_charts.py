"""Trend panels: every gridline lies within the plot, above the period labels."""

from __future__ import annotations

import pytest
from reportlab.graphics.shapes import Line

from reports import charts
from reports.bulletin_data import BulletinData
from reports.charts import TrendPoint, trend_chart
from reports.fonts import register_font


@pytest.mark.parametrize("ci", [(86.0, 89.6), (88.0, 88.4), (12.0, 31.0), (0.5, 99.5)])
def test_gridlines_stay_inside_each_trend_panel(sample: BulletinData, monkeypatch: pytest.MonkeyPatch,
                                                ci: tuple[float, float]) -> None:
    """The lowest gridline once fell below the plot, across the period labels (a 86.0–89.6 interval:
    bounds from one tick rule, gridlines from another)."""
    low, high = ci
    series = [TrendPoint(p, (low + high) / 2, low, high) for p in ("2026-09", "2026-10")]
    monkeypatch.setattr(charts, "_series", lambda _data, _index: series)
    drawing = trend_chart(sample, "zh", register_font())
    assert drawing is not None
    gridlines = [shape for shape in drawing.contents if isinstance(shape, Line)]
    assert gridlines
    for line in gridlines:
        panel_bottom = line.y1 // charts.PANEL_HEIGHT * charts.PANEL_HEIGHT
        assert panel_bottom + 22 - 1e-6 <= line.y1 <= panel_bottom + charts.PANEL_HEIGHT - 30 + 1e-6
