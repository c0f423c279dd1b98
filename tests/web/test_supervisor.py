"""Supervisors: questionnaire upload with located errors and preview, quotas, calling windows,
start/pause, and the live view's figures (sample uploads: test_sample_jobs.py)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select, update

from dialer.cases import DIALABLE
from survey.models import AuditLog, Case, Stratum, Survey
from survey.questionnaire import bundled_path
from survey.vocabulary import CaseStatus

BROKEN = """id: broken
version: "1"
languages: [zh]
questions:
  - id: q1
    type: single
    text: {zh: 您觉得安全吗？}
    choices:
      - {key: 1, code: 1, label: {zh: 安全}}
      - {key: 1, code: 2, label: {zh: 不安全}}
  - id: q2
    type: single
    when: q9 == 1
    text: {zh: 第二题}
    choices: [{key: 1, code: 1, label: {zh: 是}}]
"""


def _upload(data: bytes, name: str) -> dict[str, object]:
    return {"file": (io.BytesIO(data), name)}


def test_questionnaire_errors_are_shown_with_their_location(login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    response = c.post("/surveys/questionnaires", _upload(BROKEN.encode(), "broken.yaml"),
                      content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "broken.yaml" in page and "q9" in page and "q1" in page
    assert "/tmp" not in page and "minyi-upload" not in page


def test_a_valid_questionnaire_is_stored_and_previewed(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    text = bundled_path().read_text("utf-8").replace('version: "2026.1"', 'version: "2026.2"')
    response = c.post("/surveys/questionnaires", _upload(text.encode(), "safety.yaml"),
                      content_type="multipart/form-data")
    assert response.status_code == 302
    page = c.text(response.headers["Location"])
    assert "2026.2" in page and "在目前的社会治安环境下" in page and "q_safety in [4, 5]" in page


def test_quotas_windows_and_start_pause(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    s = web.demo.survey_id
    refused = c.post(f"/surveys/{s}/quotas", {"quota-T01": "20", "quota-T02": "-1"}, follow_redirects=True)
    assert "配额不能为负数" in refused.get_data(as_text=True)
    huge = c.post(f"/surveys/{s}/quotas", {"quota-T01": str(10**20)}, follow_redirects=True)
    assert huge.status_code == 200 and "配额不能超过 1000000" in huge.get_data(as_text=True)
    c.post(f"/surveys/{s}/quotas", {"quota-T01": "20"})
    c.post(f"/surveys/{s}/windows", {"weekday": "18:00-21:30", "weekend": "09:00-12:00, 14:00-21:00"})
    assert "25:00" in c.post(f"/surveys/{s}/windows", {"weekday": "18:00-25:00", "weekend": ""},
                             follow_redirects=True).get_data(as_text=True)
    c.post(f"/surveys/{s}/status", {"action": "pause"})
    with web.sessions() as db:
        survey = db.get(Survey, s)
        assert survey.status == "paused"
        assert survey.calling_windows["weekend"] == ["09:00-12:00", "14:00-21:00"]
        assert db.scalars(select(Stratum.quota).where(Stratum.code == "T01")).one() == 20


def test_live_view_figures(web, login) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as db:  # three fresh numbers and a callback due; the rest later or unset
        new = db.scalars(select(Case.id).where(Case.survey_id == web.demo.survey_id, Case.status == CaseStatus.NEW)
                         .order_by(Case.id).limit(4)).all()
        db.execute(update(Case).where(Case.id.in_(new[:3])).values(next_attempt_at=web.clock.now()))
        db.execute(update(Case).where(Case.id == new[3]).values(status=CaseStatus.CALLBACK,
                                                              next_attempt_at=web.clock.now()))
    data = login("supervisor").get(f"/live/{web.demo.survey_id}.json").get_json()
    with web.sessions() as db:  # due: the dialable cases counted less those booked ahead
        due = dict(db.execute(select(Case.status, func.count()).where(
            Case.survey_id == web.demo.survey_id, Case.status.in_(DIALABLE), Case.next_attempt_at <= web.clock.now())
            .group_by(Case.status)).all())
        total = db.scalar(select(func.count()).where(Case.survey_id == web.demo.survey_id))
    assert data["dialer"]["due"] == sum(due.values()) and data["dialer"]["total"] == total
    assert data["dialer"]["callbacks_due"] == due.get(CaseStatus.CALLBACK, 0)
    assert (data["dialer"]["due"], data["dialer"]["callbacks_due"], data["dialer"]["dialable"]) == (4, 1, 15)
    towns = {t["code"]: t for t in data["townships"]}
    assert towns["T01"]["completes"] == 5 and towns["T01"]["quota"] == 8
    finals = {d["code"]: d["final"] for d in data["dispositions"]}
    assert finals["1.1"] == 25
    county = next(r for r in data["rates"] if r["stratum"] == "ALL")
    assert county["RR1"] == pytest.approx(25 / 60)  # open cases count by their last code, as in the bulletin
    questions = {q["id"]: q for q in data["questions"]}
    assert questions["q_trend"]["breakoffs"] == 5  # the five partial IVR interviews stopped there
    assert questions["q_trend"]["breakoff_rate"] == round(5 / 30, 4)
    assert questions["consent"]["reached"] == 40  # 25 complete, 5 partial, 5 operator, 5 refused
    assert data["tasks"]["partial"] == 5


def test_fieldwork_settings_are_shown_and_uploaded_whole_or_not_at_all(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    s = web.demo.survey_id
    page = c.get(f"/surveys/{s}").get_data(as_text=True)
    assert 'id="fieldwork-settings"' in page and "max_attempts: 8" in page
    good = b"retry_policy: {max_attempts: 5}\nquotas: {T01: 12}\n"
    bad = good + b"pacing: {trunks: [{caller_ids: ['0271234']}]}\n"
    refused = c.post(f"/surveys/{s}/fieldwork", _upload(bad, "f.yaml"), content_type="multipart/form-data",
                     follow_redirects=True).get_data(as_text=True)
    assert "pacing.trunks[0].caller_ids[0]：&#39;0271234&#39; 不是 E.164 格式的号码" in refused
    with web.sessions() as db:
        assert not db.scalars(select(AuditLog).where(AuditLog.action == "fieldwork_set")).all()
        assert db.get(Survey, s).retry_policy.get("max_attempts") != 5
    saved = c.post(f"/surveys/{s}/fieldwork", _upload(good, "f.yaml"), content_type="multipart/form-data",
                   follow_redirects=True).get_data(as_text=True)
    assert "实地执行设置已保存" in saved and "max_attempts: 5" in saved
    with web.sessions() as db:
        assert db.get(Survey, s).retry_policy["max_attempts"] == 5
        assert db.scalars(select(Stratum.quota).where(Stratum.code == "T01", Stratum.survey_id == s)).one() == 12
        assert db.scalars(select(AuditLog).where(AuditLog.action == "fieldwork_set")).one().after["quotas"]["T01"] == 12


def _padded(text: bytes) -> bytes:
    """``text`` with comments after it, past the 256 KiB a settings file may be."""
    return text + b"# padding\n" * (26 * 1024 + 1)


def test_settings_files_larger_than_any_real_one_are_refused_before_they_are_parsed(web, login) -> None:  # type: ignore[no-untyped-def]
    """The YAML parsers are pure Python: a 4 MiB questionnaire took 263 s of CPU and 2.5 GB in the
    request. The upload limit (32 MB) is for sample frames."""
    c, s = login("supervisor"), web.demo.survey_id
    questionnaire = bundled_path().read_bytes().replace(b'version: "2026.1"', b'version: "2026.3"')
    response = c.post("/surveys/questionnaires", _upload(_padded(questionnaire), "big.yaml"),
                      content_type="multipart/form-data")
    assert response.status_code == 422
    kib = len(_padded(questionnaire)) // 1024
    assert f"big.yaml is {kib} KiB: a questionnaire, index definitions or fieldwork file may be at most 256 KiB" \
        in response.get_data(as_text=True)
    page = c.post(f"/surveys/{s}/fieldwork", _upload(_padded(b"retry_policy: {max_attempts: 5}\n"), "f.yaml"),
                  content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "f.yaml 有 260 KiB：问卷、指标定义或实地执行设置文件最大 256 KiB" in page
    indices = {"indices": (io.BytesIO(_padded(b"indices: {}\n")), "i.yaml")}
    page = c.post(f"/surveys/{s}/inputs", indices, content_type="multipart/form-data",
                  follow_redirects=True).get_data(as_text=True)
    assert "i.yaml 有 260 KiB" in page
    with web.sessions() as db:
        assert db.get(Survey, s).retry_policy.get("max_attempts") != 5
        assert not db.scalars(select(AuditLog).where(AuditLog.action.in_(
            ("questionnaire_stored", "fieldwork_set", "analysis_inputs_set")))).all()


@pytest.mark.parametrize("name", ["a\0b.yaml", "q" * 300 + ".yaml"])
def test_an_upload_named_like_no_file_is_read_under_a_name_that_is_one(web, login, name: str) -> None:  # type: ignore[no-untyped-def]
    """A NUL in the name (a crafted request) or a name past 255 bytes answered 500."""
    c = login("supervisor")
    response = c.post("/surveys/questionnaires", _upload(BROKEN.encode(), name), content_type="multipart/form-data")
    assert response.status_code == 422 and "q9" in response.get_data(as_text=True)
    inputs = {"indices": (io.BytesIO(b"indices: {}\n"), name)}
    page = c.post(f"/surveys/{web.demo.survey_id}/inputs", inputs, content_type="multipart/form-data",
                  follow_redirects=True).get_data(as_text=True)
    assert "indices" in page and "flash error" in page
