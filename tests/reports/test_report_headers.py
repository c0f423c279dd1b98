"""Table headers break where a reader would, not between any two Chinese characters."""

from __future__ import annotations

from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.fonts import register_font
from reports.tables import header_lines

FONT = register_font()


def room_for(text: str, size: float = 8.5) -> float:
    return stringWidth(text, FONT, size) + 0.5


def test_a_label_that_fits_stays_on_one_line() -> None:
    assert header_lines("95%置信区间", FONT, 8.5, room_for("95%置信区间")) == "95%置信区间"


def test_a_label_too_wide_breaks_at_its_natural_point() -> None:
    room = room_for("置信区间")
    assert header_lines("95%置信区间", FONT, 8.5, room) == "95%<br/>置信区间"
    assert header_lines("2027年第1季度", FONT, 8.5, room_for("第1季度")) == "2027年<br/>第1季度"
    assert header_lines("较上年同期", FONT, 8.5, room_for("较上年")) == "较上年<br/>同期"
    assert header_lines("指数（%）", FONT, 7.5, room_for("（%）", 7.5)) == "指数<br/>（%）"


def test_the_break_keeps_the_longer_line_shortest() -> None:
    label = "vs a year ago"
    assert header_lines(label, FONT, 8.5, room_for("vs a year")) == "vs a<br/>year ago"


def test_no_break_that_fits_leaves_the_paragraph_to_wrap() -> None:
    assert header_lines("满意度指数", FONT, 8.5, room_for("满意")) == "满意度指数"
    assert header_lines("a<b & c", FONT, 8.5, 1.0) == "a&lt;b &amp; c"
