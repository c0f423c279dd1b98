"""The own-round pages in headless Chromium at a desktop and a phone width: the new-round form with
its problems, the round's "Analysis inputs", and an official's dashboard for a round that lacks
them. Screenshots go to ``$MINYI_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import open_as, serve
from web_support import WebApp

from survey.models import Survey

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
WIDER = "document.documentElement.scrollWidth > window.innerWidth + 1"
CREATE = "main button.primary"  # not the header's log-out button
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium")]


@pytest.fixture
def site(web: WebApp) -> Iterator[str]:
    yield from serve(web.app)


@pytest.mark.parametrize("width", [1280, 390])
def test_own_round_pages_at_desktop_and_phone_width(web: WebApp, site: str, width: int, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("MINYI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "population.csv"
    bad.write_text((EXAMPLES / "population.csv").read_text("utf-8").replace("HW02,d_sex,1,", "HW02,d_sex,7,"), "utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_as(browser, site, "supervisor", width)
        page.goto(f"{site}/surveys/new")
        page.fill("input[name=code]", "OWN")  # the browser itself asks for the code (required)
        page.click(CREATE)  # no townships file
        assert "请选择乡镇 CSV 文件" in page.locator("#form-problems").inner_text()
        page.set_input_files("input[name=strata]", str(EXAMPLES / "townships.csv"))
        page.set_input_files("input[name=population]", str(bad))
        page.click(CREATE)
        assert "population.csv:3" in page.locator("#form-problems").inner_text()
        page.screenshot(path=str(shots / f"own-round-new-{width}.png"), full_page=True)
        page.set_input_files("input[name=strata]", str(EXAMPLES / "townships.csv"))
        page.click(CREATE)
        page.wait_for_url("**/surveys/*")
        page.locator("#analysis-inputs").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"own-round-inputs-{width}.png"), full_page=True)
        assert not page.evaluate(WIDER), "the round's page is wider than the screen"
        with web.sessions.begin() as db:
            survey = db.query(Survey).filter_by(code="OWN").one()
            survey.status, survey_id = "active", survey.id
        official = open_as(browser, site, "official", width)
        official.goto(f"{site}/dashboard/?survey={survey_id}")
        assert official.locator("#cannot-analyse").is_visible()
        official.screenshot(path=str(shots / f"own-round-dashboard-{width}.png"), full_page=True)
        assert not official.evaluate(WIDER), "the dashboard is wider than the screen"
        browser.close()

