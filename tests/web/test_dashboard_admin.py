"""Officials' dashboard (township scope, publication rule, charts, exports without numbers) and
the administrators' pages."""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import unquote
from xml.etree import ElementTree

from sqlalchemy import select
from web_support import Client

from survey.models import AuditLog, Survey, User
from web.analysis_source import AnalysisUnavailable
from web.queries.dashboard import index_names


def _ranking(page: str) -> list[str]:
    return re.findall(r'<tr class="tier-[a-z]+" data-code="(T\d+)">', page)


def test_dashboard_shows_indices_ranks_and_withholds_small_cells(web, login) -> None:  # type: ignore[no-untyped-def]
    page = login("official").text("/dashboard/")
    assert _ranking(page) == ["T01", "T04", "T02", "T03", "T05"]
    assert "<svg" in page and "95%" in page and "高于全县" in page and "低于全县" in page
    t05 = page.split('data-code="T05"')[1].split("</tr>")[0]
    assert "—" in t05 and "0.8" not in t05  # n = 24: withheld
    assert "公众安全感" in page and "政法机关执法满意度" in page
    assert "经 Holm 法" in page  # why an interval without the county's level can be "not shown to differ"
    other = login("official").text("/dashboard/?index=satisfaction")
    assert 'value="satisfaction" selected' in other


def test_an_official_with_a_scope_sees_only_their_township(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("official_t01")
    page = c.text("/dashboard/")
    assert _ranking(page) == ["T01"]
    assert "东湖街道" not in page and "城关镇" in page
    response = c.get(f"/dashboard/{web.demo.survey_id}/export.csv")
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        data = archive.read("minyi-2026-11.csv").decode("utf-8-sig")
    lines = data.splitlines()
    assert len(lines) == 1 + 5 and all(",T01," in line for line in lines[1:])
    assert not any(n[3:] in data for n in web.demo.numbers.values())


def test_exports_of_every_format(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    for fmt in ("csv", "xlsx", "sav", "dta"):
        response = c.get(f"/dashboard/{web.demo.survey_id}/export.{fmt}")
        assert response.status_code == 200 and len(response.get_data()) > 200, fmt


def test_dashboard_says_when_figures_are_missing(web, login) -> None:  # type: ignore[no-untyped-def]
    def unavailable(session, survey):  # type: ignore[no-untyped-def]
        raise AnalysisUnavailable("not enough completed interviews yet")

    web.app.extensions["minyi"].analyse = unavailable
    assert "not enough completed interviews yet" in login("official").text("/dashboard/")


def test_admin_creates_accounts_under_the_password_policy(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("admin")
    refused = c.post("/admin/users/new", {"username": "zhou", "password": "1234567890", "role": "interviewer",
                                          "unit_id": "0", "active": "y"}).get_data(as_text=True)
    assert "密码不能全为数字" in refused  # the policy's refusal in the page's language, not English
    response = c.post("/admin/users/new", {"username": "zhou", "display_name": "访员 周", "password": "a good password",
                                           "role": "official", "township_scope": "T02，T03", "unit_id": "0",
                                           "active": "y"})
    assert response.status_code == 302
    with web.sessions() as s:
        zhou = s.scalars(select(User).where(User.username == "zhou")).one()
        assert zhou.township_scope == ["T02", "T03"]
        admin_id = web.demo.users["admin"]
        assert s.scalars(select(AuditLog).where(AuditLog.action == "user_created")).all()[-1].user_id == admin_id
    assert login("zhou", "a good password").get("/dashboard/").status_code == 200
    again = c.post("/admin/users/new", {"username": "Zhou", "password": "another password", "role": "official",
                                        "unit_id": "0", "active": "y"}).get_data(as_text=True)
    assert "用户名 &#39;Zhou&#39; 已被使用" in again
    c.post(f"/admin/users/{zhou.id}", {"role": "official", "township_scope": "", "unit_id": "0"})  # unticked: inactive
    assert Client(web.app.test_client()).login("zhou", "a good password").status_code == 401
    audit = c.text("/admin/audit?action=user_updated")
    assert '"active": false' in audit
    assert "a good password" not in c.text("/admin/audit")


def test_typed_names_stay_text_in_the_charts(web, login) -> None:  # type: ignore[no-untyped-def]
    """An index's name (from an uploaded index definitions file) and a township's name reach the
    charts' titles, which are attributes too: a quote there must not end the attribute (an
    injected style could lay a fake figure over the official's dashboard)."""
    title, name = 'Safety" style="display:none', '城关镇"<b>'
    with web.sessions.begin() as db:
        survey = db.get(Survey, web.demo.survey_id)
        names = {index: {"zh": title, "en": title} for index in index_names(survey)}
        survey.analysis_spec = {**(survey.analysis_spec or {}), "names": names}
        next(s for s in survey.strata if s.code == "T01").name_zh = name
    page = login("official").text("/dashboard/")
    charts = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, re.S)]
    assert len(charts) == 2
    assert all(chart.get("aria-label", "").startswith(title) and chart.get("style") is None for chart in charts)
    assert name in [text.text for text in charts[0].iter("{http://www.w3.org/2000/svg}text")]


def test_a_round_whose_code_is_no_file_name_still_exports(web, login) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as db:
        db.get(Survey, web.demo.survey_id).code = "2026/11 <县>\r\n"
    c = login("official")
    for fmt, name in (("csv", "minyi-2026_11__县___-csv.zip"), ("xlsx", "minyi-2026_11__县___.xlsx"),
                      ("bulletin", "minyi-2026_11__县___-zh.pdf")):
        url = f"/dashboard/{web.demo.survey_id}/" + ("bulletin-zh.pdf" if fmt == "bulletin" else f"export.{fmt}")
        response = c.get(url)
        assert response.status_code == 200 and name in unquote(response.headers["Content-Disposition"]), fmt
