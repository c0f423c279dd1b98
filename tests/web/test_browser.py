"""The app in headless Chromium (Python playwright): every role logs in; an interviewer resumes a
partial IVR interview at the right question with the keyboard and completes it; a concern goes
through the whole workflow; the live view follows a simulated campaign without reloading.

Screenshots go to ``$MINYI_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import open_as, serve
from campaign import PacedClock, dial, field_survey
from sqlalchemy import select
from web_support import START, WebApp, only_due

from dialer.quotas import progress
from ivr.channels.simulated import World
from survey.models import Case, Concern, FollowUpTask, Interview
from survey.phones import PhoneVault
from survey.vocabulary import ConcernStatus, InterviewStatus, TaskKind, TaskStatus
from web import create_app
from web.demo_data import PARTIAL_RESUMES_AT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium")]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MINYI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def site(web: WebApp) -> Iterator[str]:
    yield from serve(web.app)


START_PAGES = {"interviewer": ("/console/", "回访队列"), "interviewer2": ("/console/", "下一个个案"),
               "transcriber": ("/transcribe/", "开放题录音"), "supervisor": ("/surveys/", "调查管理"),
               "official": ("/dashboard/", "公众安全感"), "official_t01": ("/dashboard/", "城关镇"),
               "unit_ps01": ("/concerns/", "群众诉求"), "admin": ("/admin/users", "用户管理")}


def test_every_role_logs_in_to_its_own_start_page(browser, site: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    for username, (path, text) in START_PAGES.items():
        page = open_as(browser, site, username)
        assert page.url == site + path, username
        assert text in page.content(), username
        page.screenshot(path=str(shots / f"web-start-{username}.png"))
        page.context.close()


def test_the_paged_lists_fit_a_phone(browser, site: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    """At 390 px the filters wrap and a wide table scrolls inside its card: the page itself does not."""
    page = open_as(browser, site, "supervisor")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in (("cases", "/cases/?page=2"), ("recordings", "/transcribe/?show=all"),
                           ("concerns", "/concerns/")):
            page.goto(site + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
            assert "共" in page.inner_text(".pager"), name
            page.screenshot(path=str(shots / f"web-{name}-{width}.png"), full_page=True)
    page.context.close()


def _enter(page, key: str) -> None:  # type: ignore[no-untyped-def]
    """Press the keys as the interviewer would; the page submits on a single key or on #."""
    with page.expect_navigation():
        for k in key:
            page.keyboard.press("NumpadDecimal" if k == "." else k)


def test_interviewer_resumes_a_partial_ivr_interview_with_the_keyboard(browser, site: str, web: WebApp,
                                                                       shots: Path) -> None:
    demo = web.demo
    only_due(web.sessions, demo.partial_task_id)
    page = open_as(browser, site, "interviewer")
    with page.expect_navigation():
        page.click("#next-case")
    assert demo.numbers[demo.partial_case_id] in page.inner_text("#phone")
    with page.expect_navigation():
        page.click("#start-interview")
    assert page.inner_text("#question-id") == PARTIAL_RESUMES_AT
    assert "比较安全" in page.inner_text("#answers")
    for key in ["2", "1", "2", "1"]:  # q_trend, q_police, q_court, q_procuratorate
        _enter(page, key)
    assert page.inner_text("#question-id") == "q_justice"
    page.screenshot(path=str(shots / "web-console.png"), full_page=False)
    for key in ["3", "2", "2", "1", "2", "35#"]:  # q_justice, q_overall, no suggestion, age, sex, years
        _enter(page, key)
    assert "访问已结束" in page.content()
    with page.expect_navigation():
        page.click("#record-outcome")
    assert "已记录：完成访问" in page.content()
    with web.sessions() as s:
        case = s.get(Case, demo.partial_case_id)
        interview = s.scalars(select(Interview).where(Interview.case_id == case.id)).one()
        assert interview.status == InterviewStatus.COMPLETE and case.final_disposition == "1.1"
    page.context.close()


def test_a_concern_goes_through_the_whole_workflow(browser, site: str, web: WebApp, shots: Path) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    recording = demo.recordings[-1]
    page = open_as(browser, site, "transcriber")
    page.goto(f"{site}/transcribe/{recording}")
    page.fill("textarea[name=transcription]", "村里有人在小卖部聚众赌博，晚上吵得睡不着。")
    page.select_option("select[name=category]", "vice")
    with page.expect_navigation():
        page.click("#make-concern")
    concern_id = int(re.search(r"诉求 #(\d+) 已受理", page.content()).group(1))  # type: ignore[union-attr]
    page.context.close()

    page = open_as(browser, site, "supervisor")
    page.goto(f"{site}/concerns/{concern_id}")
    page.select_option("#assign-form select[name=unit_id]", str(demo.units["PS01"]))
    page.fill("#assign-form input[name=deadline]", "2026-11-09")
    with page.expect_navigation():
        page.click("#assign-form button[type=submit]")
    assert page.inner_text("#concern-status") == "交办"
    page.context.close()

    page = open_as(browser, site, "unit_ps01")
    page.goto(f"{site}/concerns/{concern_id}")
    with page.expect_navigation():
        page.click("#start-handling")
    page.fill("#resolve-form textarea", "已依法查处，取缔赌博点。")
    with page.expect_navigation():
        page.click("#resolve-form button[type=submit]")
    assert page.inner_text("#concern-status") == "已办结"
    page.screenshot(path=str(shots / "web-concern-unit.png"))
    page.context.close()

    with web.sessions() as s:
        case_id = s.get(Concern, concern_id).case_id
        task = s.scalars(select(FollowUpTask).where(FollowUpTask.case_id == case_id,
                                                    FollowUpTask.kind == TaskKind.REVISIT)).one()
    only_due(web.sessions, task.id)
    page = open_as(browser, site, "interviewer")
    with page.expect_navigation():
        page.click("#next-case")
    assert "回访" in page.content() and "聚众赌博" in page.content()
    page.select_option(f"form:has(input[value='{concern_id}']) select[name=result]", "fixed")
    page.fill(f"form:has(input[value='{concern_id}']) input[name=note]", "居民说赌博点已经没有了")
    with page.expect_navigation():
        page.click(f"form:has(input[value='{concern_id}']) button[type=submit]")
    page.context.close()

    page = open_as(browser, site, "supervisor")
    page.goto(f"{site}/concerns/{concern_id}")
    assert page.inner_text("#concern-status") == "已回访"
    assert len(page.query_selector_all("#events tr")) == 5  # 受理, 交办, 办理中, 已办结, 已回访
    page.screenshot(path=str(shots / "web-concern.png"), full_page=True)
    page.context.close()
    with web.sessions() as s:
        assert s.get(Concern, concern_id).status == ConcernStatus.REVISITED
        assert s.get(FollowUpTask, task.id).status == TaskStatus.DONE


@dataclass
class Campaign:
    site: str
    web: WebApp
    clock: PacedClock
    world: World
    vault: PhoneVault
    survey_id: int
    code: str = "sim-2026-11"

    def dial(self) -> None:
        dial(self.web.sessions, self.clock, self.world, self.vault, self.code)


@pytest.fixture
def campaign(web: WebApp) -> Iterator[Campaign]:
    """The demo database with a simulated round added, served by an app on a paced clock (the one
    the dialer worker uses) with the real analysis behind the dashboard."""
    clock = PacedClock(START, pace=0.0005)
    world, vault = World(seed=7, townships=5), PhoneVault(web.settings.secret_key)
    survey_id = field_survey(web.sessions, clock, world, vault, code=Campaign.code, quota=25, numbers=150)
    app = create_app(web.settings, web.sessions, clock)
    app.config["LIVE_POLL_SECONDS"] = 1
    for url in serve(app):
        yield Campaign(url, web, clock, world, vault, survey_id)


def test_live_view_follows_a_simulated_campaign(browser, campaign: Campaign, shots: Path) -> None:  # type: ignore[no-untyped-def]
    site, survey_id = campaign.site, campaign.survey_id
    page = open_as(browser, site, "supervisor")
    page.goto(f"{site}/live/{survey_id}")
    assert page.inner_text("#completes") == "0 / 125"
    worker = threading.Thread(target=campaign.dial)
    worker.start()
    seen = []
    while worker.is_alive():
        page.wait_for_timeout(1200)
        seen.append(page.inner_text("#completes"))
    worker.join()
    with campaign.web.sessions() as s:
        done = sum(p.completes for p in progress(s, survey_id))
    assert done >= 125  # every quota met (a spared partial or callback may complete after its township filled)
    for _ in range(20):  # one more poll after the last complete (no wait_for_function: the CSP forbids eval)
        if page.inner_text("#completes") == f"{done} / 125":
            break
        page.wait_for_timeout(500)
    assert page.inner_text("#completes") == f"{done} / 125"
    distinct = list(dict.fromkeys(seen))
    assert len(distinct) >= 3, f"the page changed too rarely while dialling: {seen}"
    assert page.url.endswith(f"/live/{survey_id}")  # never reloaded: same page, new figures
    assert len(page.query_selector_all("#questions tr")) > 10 and page.inner_text("#rates") != ""
    page.screenshot(path=str(shots / "web-live.png"), full_page=True)
    page.context.close()

    page = open_as(browser, site, "official")
    page.goto(f"{site}/dashboard/?survey={survey_id}")
    assert len(page.query_selector_all("#ranking tbody tr")) == 5
    assert "<svg" in page.content()
    page.screenshot(path=str(shots / "web-dashboard-campaign.png"), full_page=True)
    page.context.close()


def test_official_dashboard_screenshot(browser, site: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    page = open_as(browser, site, "official")
    assert len(page.query_selector_all("#ranking tbody tr")) == 5
    page.screenshot(path=str(shots / "web-dashboard.png"), full_page=True)
    page.context.close()

