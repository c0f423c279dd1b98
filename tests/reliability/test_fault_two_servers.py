"""Two dialer workers (``minyi dial --channel asterisk``, each serving its own Stasis app) on two
Asterisk servers (two fakes, each a process of its own) share one PostgreSQL sample. The first is
SIGKILLed in the middle of an interview; its leases are taken back, by the other worker once its
heartbeat is ``--lost-after`` old, or by itself restarted under its ``--worker-id``; restarted, its
app adopts the call still up on its server and finishes the interview. In the end every case was
called once and completed once, every answer is stored, nobody was interviewed twice, and every
voice answer was fetched from the server that recorded it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ari_fake import Press, Resident, Speak
from ari_fake.process import FakeProcess
from asterisk_world import ASKED, COMPLETE_BY_PROMPT, SCALE, World
from dialer_fakes import assert_no_case_called_twice_at_once
from reliability_support import Child, minyi, sibling_conftest, spawn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from calls.recordings import ari_ref, ari_server
from dialer.frames import Frame, FrameRow
from dialer.leases import WORKER_LOST
from dialer.sample import import_sample
from survey.db import session_scope
from survey.models import Answer, CallAttempt, Case, Interview, Recording, Survey
from survey.vocabulary import ATTEMPT_ENDED, CaseStatus, InterviewStatus, RecordingDownload

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

world = sibling_conftest("asterisk").world
NUMBERS = [f"+86138000002{i:02d}" for i in range(12)]
SPEAKERS = set(NUMBERS[::4])  # leave a spoken suggestion: recorded on the server that carries the call
LOST_AFTER_S, BEAT_S = 10, 5  # --lost-after; the heartbeat (dialer/workers.py)
QUESTIONS = set(ASKED) - {"msg/language_menu"}


def _resident(number: str) -> Resident:
    speaks = {"q_suggest_yn": Press("1"), "q_suggest": Speak(3, "#")} if number in SPEAKERS else {}
    return Resident(ring_s=20, by_prompt={**COMPLETE_BY_PROMPT, "msg/resume_menu": Press("1"), **speaks})


def _sample(world: World) -> None:
    with session_scope(world.sessions) as s:
        survey = s.get(Survey, world.survey_id)
        assert survey is not None
        survey.calling_windows = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}
        survey.field_start = survey.field_end = None
        rows = tuple(FrameRow(i + 2, {"number": n, "township": "T01"}) for i, n in enumerate(NUMBERS))
        import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows), world.vault,
                      world.clock.now())


def _dial(db_url: str, server: FakeProcess, folder: Path, name: str, log: str, lines: int) -> Child:
    env = {"MINYI_DATABASE_URL": db_url, "MINYI_SECRET_KEY": "test-secret", "ARI_URL": server.url,
           "ARI_USERNAME": server.username, "ARI_PASSWORD": server.password, "ARI_APP": server.app,
           "ASTERISK_ENDPOINT": "PJSIP/{number}@trunk", "MINYI_RECORDINGS_DIR": str(folder / "recordings")}
    args = minyi("dial", "--survey", "S1", "--channel", "asterisk", "--quiet", "--until-done", "--worker-id", name,
                 "--lines", str(lines), "--lost-after", str(LOST_AFTER_S), "--max-seconds", "150")
    return spawn(args, env, folder / f"{log}.log")


def _mid_interview(sessions: sessionmaker[Session]) -> bool:
    with sessions() as s:
        return _w1_mid_interview(s)


def _w1_mid_interview(s: Session) -> bool:
    """w1 has a call whose interview has a few answers and is not complete."""
    for attempt in s.scalars(select(CallAttempt).where(CallAttempt.worker == "w1",
                                                       CallAttempt.status.not_in(ATTEMPT_ENDED))):
        interview = s.scalars(select(Interview).where(Interview.case_id == attempt.case_id)).first()
        answered = s.scalar(select(func.count(Answer.id)).where(Answer.interview_id == interview.id)) \
            if interview is not None else 0
        if interview is not None and interview.status != InterviewStatus.COMPLETE and (answered or 0) >= 3:
            return True
    return False


def _held_by(sessions: sessionmaker[Session], owner: str) -> set[int]:
    with sessions() as s:
        return set(s.scalars(select(Case.id).where(Case.lease_owner == owner, Case.status == CaseStatus.LEASED)))


def _until(condition: Callable[[], bool], children: list[Child], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        for child in children:
            assert child.running, f"a worker ended before {what}:\n{child.output()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(
            c.output() for c in children)
        time.sleep(0.02)


@pytest.mark.parametrize("taken_back_by", ["the other worker", "a restart"])
def test_two_workers_on_two_servers_serve_every_case_once_through_a_kill(world: World, db_url: str,
                                                                        tmp_path: Path, taken_back_by: str) -> None:
    _sample(world)
    residents = {n: _resident(n) for n in NUMBERS}
    servers = [FakeProcess(residents, time_scale=SCALE, prompt_s=4.0).start() for _ in range(2)]
    try:
        w1 = _dial(db_url, servers[0], tmp_path, "w1", "w1", lines=1)
        w2 = _dial(db_url, servers[1], tmp_path, "w2", "w2", lines=2)
        _until(lambda: _mid_interview(world.sessions), [w1, w2], 60, "w1 mid-interview")
        held = _held_by(world.sessions, "w1")
        assert len(held) == 1
        w1.kill()
        killed = time.monotonic()
        if taken_back_by == "the other worker":
            _until(lambda: not _held_by(world.sessions, "w1"), [w2], LOST_AFTER_S + BEAT_S + 10,
                   "w2 to take w1's lease back")
            assert time.monotonic() - killed < LOST_AFTER_S + LOST_AFTER_S / 4 + 5
        restarted = _dial(db_url, servers[0], tmp_path, "w1", "w1-restarted", lines=1)
        for worker in (restarted, w2):
            assert worker.wait(150) == 0, worker.output()
            assert "stopped: no dialable case left" in worker.output(), worker.output()
        reports = [server.stop() for server in servers]
    finally:
        for server in servers:
            server.kill()
    for report in reports:
        assert report["violations"] == [] and report["traps"] == [] and not report["api_key_seen"]
        assert report["stored"] == set()  # every recording home, then deleted at its server
    _check_fieldwork(world.sessions, held, [ari_server(server.url) for server in servers])


def _check_fieldwork(sessions: sessionmaker[Session], killed: set[int], servers: list[str]) -> None:
    with sessions() as s:
        attempts = list(s.scalars(select(CallAttempt)))
        assert len(attempts) == len(NUMBERS)  # every case called once, by one worker or the other
        assert {a.worker for a in attempts} == {"w1", "w2"}
        assert all(a.status in ATTEMPT_ENDED and a.hangup_cause for a in attempts)
        assert_no_case_called_twice_at_once(attempts)
        [cut] = [a for a in attempts if a.case_id in killed]
        assert cut.hangup_cause != WORKER_LOST  # the real result replaced the takeover's unknown
        assert s.scalar(select(func.count(Case.id)).where(Case.lease_owner.is_not(None))) == 0
        interviews = list(s.scalars(select(Interview)))
        assert len(interviews) == len(NUMBERS) == len({i.case_id for i in interviews})  # nobody twice
        assert all(i.status == InterviewStatus.COMPLETE for i in interviews)
        for interview in interviews:
            answered = set(s.scalars(select(Answer.question_id).where(Answer.interview_id == interview.id,
                                                                      Answer.status == "answered")))
            speaker = s.scalar(select(func.count(Recording.id)).where(Recording.interview_id == interview.id))
            assert answered == QUESTIONS | ({"q_suggest"} if speaker else set()), interview.id
        server_of = {a.id: servers[0] if a.worker == "w1" else servers[1] for a in attempts}
        recordings = list(s.scalars(select(Recording)))
        assert len(recordings) == len(SPEAKERS)
        for r in recordings:
            assert r.attempt_id is not None and r.provider_id is not None
            assert r.download_status == RecordingDownload.STORED and r.provider_deleted_at is not None
            assert r.remote_url == ari_ref(server_of[r.attempt_id], r.provider_id)
