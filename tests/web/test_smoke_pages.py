"""Every page renders for the role it is meant for (a quick net under the matrix test)."""

from __future__ import annotations

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
