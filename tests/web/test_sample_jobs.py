"""Sample uploads as background jobs, from the browser's side: the upload is stored and queued, a
worker imports it, the page shows progress and then the result (again when reopened), numbers of
other countries and special-service numbers are admitted on request, the rejected rows download
as a CSV with a reason column, a zip bomb fails the job with a clear message, and only the
survey's whole-county supervisors see any of it."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace

from sqlalchemy import func, select
from web_support import run_jobs

from survey.models import AuditLog, Case, Job, JobFile
from survey.vocabulary import JobStatus
from web import create_app

FRAME = "电话,乡镇\n13912345678,T01\n+12025550123,T02\n95588,T01\n1391234567,T02\n".encode()


def _upload(data: bytes, name: str, **flags: str) -> dict[str, object]:
    return {"file": (io.BytesIO(data), name), **flags}


def _cases(web) -> int:  # type: ignore[no-untyped-def]
    with web.sessions() as db:
        return int(db.scalar(select(func.count()).select_from(Case)))


def test_upload_is_queued_then_imported_and_the_result_stays(web, login) -> None:  # type: ignore[no-untyped-def]
    c, s = login("supervisor"), web.demo.survey_id
    before = _cases(web)
    response = c.post(f"/surveys/{s}/sample", _upload(FRAME, "frame.csv", skip_invalid="y"),
                      content_type="multipart/form-data")
    assert response.status_code == 302
    page_url = response.headers["Location"]
    waiting = c.text(page_url)
    assert 'id="job-progress"' in waiting and "job.js" in waiting and 'http-equiv="refresh"' in waiting
    assert c.get(page_url + ".json").get_json()["status"] == "queued"
    assert _cases(web) == before  # nothing imported by the request itself

    assert run_jobs(web) == 1
    state = c.get(page_url + ".json").get_json()
    assert state == {**state, "status": "done", "percent": 100, "finished": True}
    assert _cases(web) == before + 1
    done = c.text(page_url)  # reopened: the result, no polling
    assert 'id="job-counts"' in done and "job.js" not in done and "refresh" not in done
    assert "13912345678" not in done  # rows are shown masked
    assert "frame.csv" in c.text(f"/surveys/{s}")  # the survey page lists the upload
    with web.sessions() as db:
        actions = [(a.action, a.user_id) for a in db.scalars(select(AuditLog).where(AuditLog.entity == "survey",
                                                                                    AuditLog.entity_id == str(s)))]
    supervisor = web.demo.users["supervisor"]
    assert ("sample_upload_queued", supervisor) in actions and ("sample_imported", supervisor) in actions


def test_foreign_and_service_numbers_are_admitted_on_request(web, login) -> None:  # type: ignore[no-untyped-def]
    c, s = login("supervisor"), web.demo.survey_id
    before = _cases(web)
    url = c.post(f"/surveys/{s}/sample", _upload(FRAME, "frame.csv", skip_invalid="y"),
                 content_type="multipart/form-data").headers["Location"]
    run_jobs(web)
    page = c.text(url)
    assert "国外号码" in page and "特服号码" in page  # rejected rows counted by reason, in Chinese
    row_errors = page.split('id="row-errors"', 1)[1].split("</table>", 1)[0]
    assert "国外号码" in row_errors and "foreign number" not in row_errors  # and each row's reason too
    with web.sessions() as db:
        result = db.scalars(select(Job).order_by(Job.id.desc())).first().result  # type: ignore[union-attr]
    assert result["reasons"] == {"foreign number": 1, "special-service number": 1, "not a valid number": 1}

    download = c.get(url + "/rejected.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["电话", "乡镇", "reason"]
    assert [r[0] for r in rows[1:]] == ["+12025550123", "95588", "1391234567"]
    with web.sessions() as db:
        assert db.scalars(select(AuditLog).where(AuditLog.action == "download",
                                                 AuditLog.entity == "sample_rejects")).one()

    fixed = "\n".join(",".join(r[:2]) for r in rows[:3]).encode()  # the file, foreign and service rows kept
    url = c.post(f"/surveys/{s}/sample", _upload(fixed, "frame.rejected.csv", allow_foreign="y", allow_service="y"),
                 content_type="multipart/form-data").headers["Location"]
    run_jobs(web)
    assert c.get(url + ".json").get_json()["status"] == "done"
    assert _cases(web) == before + 3
    assert c.get(url + "/rejected.csv").status_code == 404  # nothing was rejected


def test_bad_rows_without_skip_import_nothing_and_say_so(web, login) -> None:  # type: ignore[no-untyped-def]
    c, s = login("supervisor"), web.demo.survey_id
    before = _cases(web)
    url = c.post(f"/surveys/{s}/sample", _upload(FRAME, "frame.csv"), content_type="multipart/form-data").headers["Location"]
    run_jobs(web)
    page = c.text(url)
    assert 'id="job-refused"' in page and 'id="row-errors"' in page and "1391234567" not in page and "139*****67" in page
    assert _cases(web) == before


def test_a_zip_bomb_fails_the_job_with_a_clear_message(web, login) -> None:  # type: ignore[no-untyped-def]
    c, s = login("supervisor"), web.demo.survey_id
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (20 * 2**20) + b">")
    assert len(bomb.getvalue()) < 64 * 1024
    url = c.post(f"/surveys/{s}/sample", _upload(bomb.getvalue(), "big.xlsx"),
                 content_type="multipart/form-data").headers["Location"]
    run_jobs(web)
    assert c.get(url + ".json").get_json()["status"] == "failed"
    page = c.text(url)
    assert 'id="job-error"' in page and "xl/worksheets/sheet1.xml" in page and "压缩炸弹" in page
    assert "minyi-job-" not in page and "/tmp" not in page


def test_an_empty_file_is_refused_before_any_job(web, login) -> None:  # type: ignore[no-untyped-def]
    c, s = login("supervisor"), web.demo.survey_id
    page = c.post(f"/surveys/{s}/sample", _upload(b"  \n", "frame.csv"), content_type="multipart/form-data",
                  follow_redirects=True).get_data(as_text=True)
    assert "文件是空的" in page
    with web.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Job)) == 0


def test_only_whole_county_supervisors_see_a_job(web, login) -> None:  # type: ignore[no-untyped-def]
    s = web.demo.survey_id
    url = login("supervisor").post(f"/surveys/{s}/sample", _upload(FRAME, "frame.csv"),
                                   content_type="multipart/form-data").headers["Location"]
    for role, code in (("supervisor_t01", 403), ("interviewer", 403), ("official", 403)):
        assert login(role).get(url).status_code == code, role
        assert login(role).get(url + ".json").status_code == code, role
    with web.sessions() as db:
        assert db.scalars(select(Job)).one().status == JobStatus.QUEUED


def test_an_upload_over_the_configured_size_is_refused_unstored(web, login) -> None:  # type: ignore[no-untyped-def]
    small = create_app(replace(web.settings, upload_max_mb=1), web.sessions, web.clock)
    assert small.config["MAX_CONTENT_LENGTH"] < 2 * 2**20
    web.app.config["MAX_CONTENT_LENGTH"] = small.config["MAX_CONTENT_LENGTH"]
    c, s = login("supervisor"), web.demo.survey_id
    big = b"number\n" + b"13912345678\n" * (2 * 2**20 // 12)
    response = c.post(f"/surveys/{s}/sample", _upload(big, "frame.csv"), content_type="multipart/form-data")
    assert response.status_code == 413 and "文件过大" in response.get_data(as_text=True)
    with web.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Job)) == 0


def test_the_rejected_rows_of_a_frame_with_a_line_break_in_its_name_download(web, login) -> None:  # type: ignore[no-untyped-def]
    """The uploaded file's name made the download's name: a line break in it (an upload's
    ``filename*=`` may carry one; no header value may) was a 500."""
    c, s = login("supervisor"), web.demo.survey_id
    url = c.post(f"/surveys/{s}/sample", _upload(FRAME, "frame.csv", skip_invalid="y"),
                 content_type="multipart/form-data").headers["Location"]
    run_jobs(web)
    with web.sessions() as db:
        rejected = db.scalars(select(JobFile).where(JobFile.role == "rejected").order_by(JobFile.job_id.desc())).first()
        assert rejected is not None
        rejected.name = "my\r\nframe.rejected.csv"
        db.commit()
    download = c.get(url + "/rejected.csv")
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert "\n" not in disposition and "\r" not in disposition and "frame.rejected.csv" in disposition
