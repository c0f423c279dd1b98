"""Each role's daily pages in headless Chromium at a desktop width and at 390 px (a phone): the
page never needs sideways scrolling (wide tables scroll inside their card), and every page is
saved as a screenshot to look at (``$MINYI_SCREENSHOTS``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from test_browser import browser, open_as, shots, site  # noqa: F401 - fixtures
from web_support import WebApp

from survey.models import Concern, FollowUpTask, Recording, StaffCallPolicy
from survey.vocabulary import TaskStatus
from web.charts import Bar, township_chart

pytestmark = [pytest.mark.browser]
WIDTHS = (1280, 390)


def daily_pages(web: WebApp) -> dict[str, list[str]]:
    with web.sessions.begin() as s:
        task = web.demo.partial_task_id
        s.execute(update(FollowUpTask).where(FollowUpTask.id == task).values(
            status=TaskStatus.IN_PROGRESS, assigned_to=web.demo.users["interviewer"]))
        recording = s.scalars(select(Recording.id)).first()
        unit_concern = s.scalars(select(Concern.id).where(Concern.unit_id == web.demo.units["PS01"])).first()
        s.merge(StaffCallPolicy(id=1, provider="asterisk", record=True, tel_fallback=False))  # the console's Call
    sid, case = web.demo.survey_id, web.demo.partial_case_id
    return {
        "interviewer": ["/console/", f"/console/task/{task}", "/console/f2f"],
        "supervisor": ["/surveys/", f"/surveys/{sid}", f"/live/{sid}", "/cases/", f"/cases/{case}", "/concerns/",
                       f"/concerns/{web.demo.concerns['received']}", "/transcribe/?show=all", "/dashboard/"],
        "transcriber": ["/transcribe/", f"/transcribe/{recording}"],
        "official": ["/dashboard/"],
        "unit_ps01": ["/concerns/", f"/concerns/{unit_concern}"],
        "admin": ["/admin/users", "/admin/users/new", "/admin/units", "/admin/audit", "/admin/staff-calls"],
    }


def test_daily_pages_fit_a_phone_and_a_desktop(web, browser, site, shots) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    too_wide: list[str] = []
    for user, urls in daily_pages(web).items():
        page = open_as(browser, site, user)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for url in urls:
                page.goto(site + url)
                page.wait_for_load_state("networkidle")
                name = f"{user}{url.replace('/', '_').replace('?', '_').replace('=', '-')}-{width}.png"
                page.screenshot(path=str(shots / name), full_page=True)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > width:
                    too_wide.append(f"{user} {url} at {width}px: {scroll}px wide")
        page.context.close()
    assert not too_wide, "\n".join(too_wide)


def test_english_pages_fit_a_phone(web, browser, site, shots) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """English words are longer than Chinese ones: the live view's questions table and the
    dashboard's ranking, in English at 390 px, scroll inside their card, not the page, and the
    supervisor's menu takes a row of its own under the centre's name."""
    too_wide: list[str] = []
    for user, url in (("supervisor", f"/live/{web.demo.survey_id}"), ("official", "/dashboard/")):
        page = open_as(browser, site, user, width=390)
        page.goto(site + "/lang/en")
        page.goto(site + url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{user}{url.replace('/', '_')}-en-390.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > 390:
            too_wide.append(f"{user} {url} in English at 390px: {scroll}px wide")
        header = page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")
        if header > 160:  # the menu squeezed beside the centre's name, one entry a line: 240 px of 844
            too_wide.append(f"{user} {url} in English at 390px: a header {header}px high")
        page.context.close()
    assert not too_wide, "\n".join(too_wide)


def test_long_english_township_names_fit_the_chart(browser, site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The dashboard's chart in the app's fonts: every label starts inside the picture (Dawangzhuang
    Township lost its first letters to a label column of fixed width)."""
    bars = [Bar("Dawangzhuang Township", 96.5, 90.8, 98.7), Bar("Dongcheng Subdistrict", 89.4, 81.5, 94.1),
            Bar("城关镇", 96.5, 90.7, 98.7)]
    page = open_as(browser, site, "official")
    page.set_content(f'<link rel="stylesheet" href="{site}/static/app.css"><body style="width:620px">'
                     f'{township_chart(bars, 90.4, "t")}</body>')
    page.wait_for_load_state("networkidle")
    lefts = page.evaluate("[...document.querySelectorAll('svg.chart text')].map(t => t.getBBox().x)")
    assert min(lefts) >= 0, lefts
    page.context.close()
