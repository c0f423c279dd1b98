"""The one font of the bulletin: WenQuanYi Micro Hei, shipped in ``reports/fonts``.

A TrueType font registered with reportlab is embedded as a subset, so the PDF reads the same
on a machine without CJK fonts. The non-embedded Adobe CID fonts (STSong-Light) are not used.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "WenQuanYiMicroHei"
FONT_FILE = Path(__file__).parent / "fonts" / "wqy-microhei.ttc"


def register_font() -> str:
    """Register the bulletin font once per process and return its name."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))
    return FONT


def has_glyph(char: str) -> bool:
    """Whether the font draws ``char`` (a missing glyph prints as a blank box)."""
    font = pdfmetrics.getFont(register_font())
    return ord(char) in font.face.charToGlyph
