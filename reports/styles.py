"""Page geometry, colours and paragraph styles of the bulletin (one font, several sizes)."""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from reports.bulletin_data import Lang
from reports.fonts import register_font

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
BOTTOM_MARGIN = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

RED = colors.HexColor("#B3261E")  # masthead rule, as on printed government bulletins
INK = colors.HexColor("#1F2328")
GREY = colors.HexColor("#5F6368")
RULE = colors.HexColor("#9AA0A6")
SHADE = colors.HexColor("#F1F3F4")
BOX = colors.HexColor("#F7F4EC")
ACCENT = colors.HexColor("#1A5FB4")
BAND = colors.HexColor("#C6DAF2")
UP = colors.HexColor("#1E7B34")
DOWN = colors.HexColor("#B3261E")


@dataclass(frozen=True)
class Styles:
    font: str
    body: ParagraphStyle
    centre: ParagraphStyle
    issue: ParagraphStyle
    title: ParagraphStyle
    dateline: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    bullet: ParagraphStyle
    note: ParagraphStyle
    caption: ParagraphStyle  # a line under a chart title, kept with the chart
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    small_cell: ParagraphStyle  # the township table's 7.5-point cells
    small_cell_right: ParagraphStyle
    box_label: ParagraphStyle
    box_text: ParagraphStyle


def make_styles(lang: Lang) -> Styles:
    """Chinese text wraps between any two characters (wordWrap='CJK'); English at spaces."""
    font = register_font()
    base = ParagraphStyle(
        "body", fontName=font, fontSize=9.5, leading=14.5, textColor=INK,
        wordWrap="CJK" if lang == "zh" else None,
    )  # fmt: skip

    def derive(name: str, **kw: object) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return Styles(
        font=font,
        body=base,
        centre=derive("centre", fontSize=21, leading=28, textColor=RED, alignment=TA_CENTER),
        issue=derive("issue", fontSize=10, leading=14, alignment=TA_CENTER, textColor=GREY),
        title=derive("title", fontSize=15, leading=21, alignment=TA_CENTER, spaceBefore=8, spaceAfter=2),
        dateline=derive("dateline", fontSize=8.5, leading=12, alignment=TA_CENTER, textColor=GREY),
        h1=derive(
            "h1", fontSize=12.5, leading=18, spaceBefore=12, spaceAfter=5, textColor=ACCENT, keepWithNext=1
        ),
        h2=derive("h2", fontSize=10, leading=14, spaceBefore=6, spaceAfter=3, keepWithNext=1),
        bullet=derive(
            "bullet", leftIndent=12, bulletIndent=2, spaceAfter=3, bulletFontName=font, bulletFontSize=7
        ),
        note=derive("note", fontSize=7.5, leading=10.5, textColor=GREY, spaceBefore=3),
        caption=derive("caption", fontSize=7.5, leading=10.5, textColor=GREY, spaceAfter=4, keepWithNext=1),
        cell=derive("cell", fontSize=8.5, leading=11, alignment=TA_LEFT),
        cell_right=derive("cell_right", fontSize=8.5, leading=11, alignment=TA_RIGHT),
        small_cell=derive("small_cell", fontSize=7.5, leading=9.5, alignment=TA_LEFT),
        small_cell_right=derive("small_cell_right", fontSize=7.5, leading=9.5, alignment=TA_RIGHT),
        box_label=derive("box_label", fontSize=8.5, leading=12, textColor=ACCENT),
        box_text=derive("box_text", fontSize=8.5, leading=12.5),
    )
