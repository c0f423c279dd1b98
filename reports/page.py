"""Page furniture: running head, page numbers ("page x of y") and the build stamp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reportlab.pdfgen.canvas import Canvas

from reports import formatting as fmt
from reports.bulletin_data import BulletinData, Lang
from reports.i18n import tr
from reports.styles import BOTTOM_MARGIN, GREY, MARGIN, PAGE_HEIGHT, PAGE_WIDTH, RULE

Decorate = Callable[[Canvas, int, int], None]


def numbered_canvas(decorate: Decorate) -> type[Canvas]:
    """A canvas class that holds every page until the end, so each footer can say "of y"."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                decorate(self, number, len(self._pages))
                super().showPage()
            super().save()

    return NumberedCanvas


def page_decorator(data: BulletinData, lang: Lang, font: str) -> Decorate:
    stamp = tr(
        "stamp", lang, snapshot=fmt.stamp(data.build.data_snapshot, data.timezone, lang), version=data.build.software_version
    )
    if data.build.build_id:
        stamp += f" ({data.build.build_id})"
    period = data.periods.label(data.periods.current, lang)
    head = f"{data.centre.get(lang)} · {period} · {tr('issue', lang, issue=data.issue)}"
    return furniture(stamp, head, lang, font)


def furniture(stamp: str, head: str, lang: Lang, font: str) -> Decorate:
    """The footer (``stamp``, "page x of y") on every page, the running ``head`` from page 2 on."""

    def decorate(canvas: Canvas, number: int, total: int) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillColor(GREY)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        footer_y = BOTTOM_MARGIN - 28  # clear of the last line of the body
        canvas.line(MARGIN, footer_y + 9, PAGE_WIDTH - MARGIN, footer_y + 9)
        canvas.drawString(MARGIN, footer_y, stamp)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, footer_y, tr("page", lang, page=number, total=total))
        if number > 1:
            canvas.drawString(MARGIN, PAGE_HEIGHT - MARGIN + 16, head)
            canvas.line(MARGIN, PAGE_HEIGHT - MARGIN + 12, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - MARGIN + 12)
        canvas.restoreState()

    return decorate
