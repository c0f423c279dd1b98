"""Every page renders for the role it is meant for (a quick net under the matrix test)."""

from __future__ import annotations

import re

import pytest

PAGES = {
    "interviewer": ["/console/", "/console/f2f"],
    "transcriber": ["/transcribe/", "/transcribe/1"],
    "supervisor": ["/surveys/", "/surveys/1", "/surveys/new", "/surveys/questionnaires/1", "/live/1", "/live/1.json",
                   "/cases/", "/cases/6", "/concerns/", "/concerns/2", "/dashboard/", "/transcribe/"],
    "official": ["/dashboard/"],
    "official_t01": ["/dashboard/"],
    "unit_ps01": ["/concerns/", "/concerns/2"],
    "admin": ["/admin/users", "/admin/users/1", "/admin/users/new", "/admin/units", "/admin/audit"],
}


@pytest.mark.parametrize("role", list(PAGES))
def test_pages_render(login, role: str) -> None:  # type: ignore[no-untyped-def]
    c = login(role)
    for url in PAGES[role]:
        response = c.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:2000])


CURRENT = {  # (role, page) -> the one menu entry marked as the current page
    ("interviewer", "/console/"): "/console/", ("interviewer", "/console/f2f"): "/console/f2f",
    ("admin", "/admin/users/new"): "/admin/users", ("admin", "/admin/audit"): "/admin/audit",
    ("admin", "/admin/recordings/"): "/admin/recordings/", ("supervisor", "/live/1"): "/live/",
}


@pytest.mark.parametrize(("role", "url"), list(CURRENT))
def test_the_menu_marks_one_entry_as_the_current_page(login, role: str, url: str) -> None:  # type: ignore[no-untyped-def]
    """Menus with several entries of one blueprint (the admin's, the interviewer's) once marked all
    of them as current."""
    html = login(role).get(url).get_data(as_text=True)
    nav = html[html.index("<nav>"):html.index("</nav>")]
    assert re.findall(r'<a href="([^"]+)" class="active"', nav) == [CURRENT[role, url]]
