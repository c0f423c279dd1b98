"""The concerns workflow through the pages: a transcription becomes a concern in one click, the
supervisor assigns it, the unit handles and resolves it, the revisit closes it; illegal steps are
refused with a clear message; overdue concerns are flagged."""

from __future__ import annotations

import re

from sqlalchemy import select

from survey.models import Concern, FollowUpTask, Recording
from survey.vocabulary import ConcernStatus, TaskKind


def _new_concern_id(flash_page: str) -> int:
    return int(re.search(r"诉求 #(\d+) 已受理", flash_page).group(1))  # type: ignore[union-attr]


def test_from_recording_to_revisit(web, login) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    free = demo.recordings[-1]  # not transcribed in the demo
    transcriber = login("transcriber")
    assert f"/transcribe/{free}" in transcriber.text("/transcribe/")
    page = transcriber.post(f"/transcribe/{free}", {"transcription": "小区门口有人聚众赌博，希望查处。",
                                                    "category": "vice", "then": "concern"},
                            follow_redirects=True).get_data(as_text=True)
    concern_id = _new_concern_id(page)
    supervisor, unit = login("supervisor"), login("unit_ps01")
    assert unit.get(f"/concerns/{concern_id}").status_code == 404  # not assigned to the unit yet
    supervisor.post(f"/concerns/{concern_id}/assign", {"unit_id": demo.units["PS01"], "deadline": "2026-11-09",
                                                       "note": "请一周内办结"})
    assert "小区门口有人聚众赌博" in unit.text("/concerns/")
    page = unit.post(f"/concerns/{concern_id}/resolve", {"note": "太早了"}, follow_redirects=True)
    assert "操作无效" in page.get_data(as_text=True) and "只能在“办理中”状态下进行" in page.get_data(as_text=True)
    unit.post(f"/concerns/{concern_id}/start")
    unit.post(f"/concerns/{concern_id}/note", {"note": "已联系社区民警核查"})
    unit.post(f"/concerns/{concern_id}/resolve", {"note": "已依法查处，设立巡逻点。"})
    with web.sessions() as s:
        concern = s.get(Concern, concern_id)
        assert concern.status == ConcernStatus.RESOLVED
        assert concern.deadline.isoformat() == "2026-11-09T15:59:00"  # end of the day in Shanghai
        task = s.scalars(select(FollowUpTask).where(FollowUpTask.case_id == concern.case_id,
                                                    FollowUpTask.kind == TaskKind.REVISIT)).one()
    supervisor.post(f"/concerns/{concern_id}/revisit", {"result": "fixed", "note": "居民表示满意"})
    page = supervisor.text(f"/concerns/{concern_id}")
    assert "已回访" in page and "已依法查处" in page and "该诉求已办结并回访" in page
    with web.sessions() as s:
        assert s.get(FollowUpTask, task.id).status == "done"


def test_overdue_concerns_are_flagged(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("unit_ps01")
    overdue = web.demo.concerns["overdue"]
    listing = c.text("/concerns/?overdue=1")
    assert f"/concerns/{overdue}" in listing and f"/concerns/{web.demo.concerns['assigned']}\"" not in listing
    assert 'id="overdue"' in c.text(f"/concerns/{overdue}")


def test_a_recording_becomes_one_concern_at_most(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("transcriber")
    with web.sessions() as s:
        first = s.scalars(select(Recording).where(Recording.transcription.is_not(None))).first()
    page = c.post(f"/transcribe/{first.id}/concern", follow_redirects=True).get_data(as_text=True)
    assert "该录音已受理为诉求" in page
