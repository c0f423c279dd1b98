"""A round made in the browser from a centre's own files (docs/examples): its population counts and
index definitions are checked as ``minyi survey create`` checks them, every problem is shown with
its file and line in Chinese and English, and the round is dialled, analysed and reported. An
official never lands on a round that cannot be analysed: the page says what is missing and how
to add it."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select
from web_support import Client, WebApp

from dialer.frames import read_frame
from dialer.sample import import_sample
from dialer.worker import Stop, WorkerOptions, run_worker
from ivr.channels.simulated import from_settings
from survey.models import AuditLog, Stratum, Survey
from web import create_app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
OWN_FILES = {"strata": "townships.csv", "population": "population.csv", "indices": "indices.yaml"}


def _file(name: str, data: bytes | None = None) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data if data is not None else (EXAMPLES / name).read_bytes()), name


def _questionnaire(c: Client) -> int:
    c.post("/surveys/questionnaires", {"file": _file("questionnaire.yaml")}, content_type="multipart/form-data")
    page = c.text("/surveys/new")
    return int(page.split('<option value="')[1].split('"')[0])  # the newest first


def _new(c: Client, qid: int, code: str, **files: tuple[io.BytesIO, str] | None) -> tuple[int, str]:
    chosen = {"strata": _file("townships.csv"), **files}
    form: dict[str, object] = {"code": code, "name": "公共服务调查", "period": "2026-12", "questionnaire_id": str(qid), "quota": "0",
            **{k: v for k, v in chosen.items() if v is not None}}
    response = c.post("/surveys/new", form, content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def _count(web: WebApp, code: str) -> int:
    with web.sessions() as db:
        return int(db.scalar(select(func.count()).select_from(Survey).where(Survey.code == code)) or 0)


def test_a_round_created_in_the_browser_is_dialled_analysed_and_reported(  # type: ignore[no-untyped-def]
        web: WebApp, login) -> None:
    c = login("supervisor")
    status, _page = _new(c, _questionnaire(c), "CIVIC-W", population=_file("population.csv"),
                         indices=_file("indices.yaml"))
    assert status == 302
    with web.sessions() as db:
        survey = db.scalars(select(Survey).where(Survey.code == "CIVIC-W")).one()
        assert set(survey.analysis_spec) >= {"indices", "weighting"}
        assert all(s.population for s in survey.strata) and len(survey.strata) == 3
        survey_id = survey.id
        import_sample(db, survey, read_frame(EXAMPLES / "frame.csv"), web.app.extensions["minyi"].vault,
                      web.clock.now())
        db.commit()
    assert 'id="inputs-complete"' in c.text(f"/surveys/{survey_id}")
    c.post(f"/surveys/{survey_id}/status", {"action": "start"})
    report = run_worker(web.sessions, from_settings(web.settings, web.sessions, web.clock), web.clock,
                        web.app.extensions["minyi"].vault, WorkerOptions(survey="CIVIC-W", until_done=True))
    assert report.stop_reason in (Stop.QUOTAS_MET, Stop.NO_CASES) and report.dispositions.get("1.1")
    real = create_app(web.settings, web.sessions, web.clock)  # the real analysis, not the tests' stand-in
    official = Client(real.test_client())
    official.login("official")
    page = official.text(f"/dashboard/?survey={survey_id}")
    assert 'id="ranking"' in page and "cannot-analyse" not in page and "城关镇" in page
    pdf = official.get(f"/dashboard/{survey_id}/bulletin-zh.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_every_problem_of_the_new_round_form_is_shown_and_nothing_is_stored(web: WebApp, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    qid = _questionnaire(c)
    status, page = _new(c, qid, "", strata=None)  # no code, no townships file: the form's own checks
    assert status == 422 and 'id="form-problems"' in page
    assert "编号：请填写本轮编号" in page and "乡镇：请选择乡镇 CSV 文件" in page
    bad_population = (EXAMPLES / "population.csv").read_text("utf-8").replace("HW02,d_sex,1,4800", "HW02,d_sex,7,4800")
    status, page = _new(c, qid, "BAD", population=_file("pop.csv", bad_population.encode()))
    assert status == 422
    assert "pop.csv:12：&#39;7&#39; 不是 d_sex 的答案代码" in page, page  # file:line and the reason, in Chinese
    assert "minyi-upload" not in page and "/tmp" not in page
    bad_indices = b"indices:\n  safety: {question: q_nope, kind: share, favourable: [1]}\n"
    status, page = _new(c, qid, "BAD", indices=_file("idx.yaml", bad_indices))
    assert status == 422 and "idx.yaml:2: indices.safety" in page and "q_nope" in page
    unchosen = c.post("/surveys/questionnaires", {}, follow_redirects=True).get_data(as_text=True)
    assert "请选择要上传的问卷文件" in unchosen
    c.get("/lang/en?next=/surveys/new")
    status, page = _new(c, qid, "BAD", population=_file("pop.csv", bad_population.encode()))
    assert status == 422 and "pop.csv:12: &#39;7&#39; is not an answer code of d_sex" in page
    assert _count(web, "BAD") == 0


def test_an_official_is_told_what_a_round_lacks_and_a_supervisor_adds_it(web: WebApp, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    status, _page = _new(c, _questionnaire(c), "BARE")
    assert status == 302
    with web.sessions() as db:
        survey_id = db.scalars(select(Survey.id).where(Survey.code == "BARE")).one()
    detail = c.text(f"/surveys/{survey_id}")
    assert "尚无指数定义" in detail and "尚无人口数" in detail
    c.post(f"/surveys/{survey_id}/status", {"action": "start"})
    official = login("official")
    page = official.text(f"/dashboard/?survey={survey_id}")
    assert 'id="cannot-analyse"' in page and "minyi survey set BARE --indices INDICES.yaml" in page
    assert "bulletin-zh" not in page
    assert 'id="cannot-analyse"' not in official.text("/dashboard/")  # by default: the newest analysable round
    refused = official.get(f"/dashboard/{survey_id}/bulletin-zh.pdf", follow_redirects=True)
    assert refused.status_code == 200 and "尚无人口数" in refused.get_data(as_text=True)
    wrong = c.post(f"/surveys/{survey_id}/inputs", {"population": _file("p.csv", b"township,N\nXX,5\n")},
                   content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "p.csv:2：乡镇 &#39;XX&#39; 不属于" in wrong
    c.post(f"/surveys/{survey_id}/inputs", {"population": _file("population.csv"), "indices": _file("indices.yaml")},
           content_type="multipart/form-data")
    with web.sessions() as db:
        assert all(db.scalars(select(Stratum.population).where(Stratum.survey_id == survey_id)))
        audit = db.scalars(select(AuditLog).where(AuditLog.action == "analysis_inputs_set")).one()
        assert audit.after is not None and audit.after["missing"] == []
    page = official.text(f"/dashboard/?survey={survey_id}")
    assert "cannot-analyse" not in page
