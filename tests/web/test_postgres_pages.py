"""The app on each database back end (the shared ``db_url`` fixture: SQLite and PostgreSQL):
seed the demo county, open every role's pages, take and finish a follow-up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from web_support import SECRET, START, Client

from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import make_engine, session_factory
from survey.models import CallAttempt
from web import create_app
from web.demo_data import seed

PAGES = {"interviewer": "/console/", "transcriber": "/transcribe/", "official": "/dashboard/",
         "unit_ps01": "/concerns/", "admin": "/admin/audit"}


def test_pages_and_a_follow_up_on_each_back_end(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = VirtualClock(START)
    with sessions() as s:
        demo = seed(s, clock, secret_key=SECRET, recordings_dir=tmp_path / "recordings", cases_per_township=6)
        s.commit()
    app = create_app(Settings(database_url=db_url, secret_key=SECRET, recordings_dir=str(tmp_path / "recordings")),
                     sessions, clock)
    try:
        supervisor = Client(app.test_client())
        supervisor.login("supervisor")
        for url in ("/surveys/", f"/surveys/{demo.survey_id}", f"/live/{demo.survey_id}.json", "/cases/",
                    f"/cases/{demo.partial_case_id}", "/concerns/"):
            assert supervisor.get(url).status_code == 200, url
        for user, url in PAGES.items():
            c = Client(app.test_client())
            c.login(user)
            assert c.get(url).status_code == 200, (user, url)
        interviewer = Client(app.test_client())
        interviewer.login("interviewer")
        task = interviewer.post("/console/next").headers["Location"]
        assert interviewer.get(task).status_code == 200
        assert interviewer.post(task + "/disposition", {"outcome": "busy"}).status_code == 302
        with sessions() as s:
            attempt = s.scalars(select(CallAttempt).where(CallAttempt.channel == "cati")).one()
            assert attempt.temp_disposition == "3.12"
    finally:
        engine.dispose()
