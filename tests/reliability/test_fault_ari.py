"""`minyi ari` SIGKILLed mid-call against the fake Asterisk, then restarted: the calls still up are
adopted and finish their interviews where they were, the calls that ended meanwhile get their
results when the dialer's leases run out, no answer is lost, and the ARI password never reaches
the logs (``-v``: every call step logged)."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from ari_fake import FakeAsterisk, Press, Resident
from asterisk_world import COMPLETE_BY_PROMPT, World, wait_for
from reliability_support import Child, minyi, sibling_conftest, spawn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.leases import lease, reap
from dialer.policy import DialPolicy
from dialer.protocol import CallRequest
from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import Answer, CallAttempt, Interview, Survey
from survey.vocabulary import ATTEMPT_ENDED, RESUMABLE, CallStatus, InterviewStatus

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

_asterisk = sibling_conftest("asterisk")
ari_spec, fake, settings, world = _asterisk.ari_spec, _asterisk.fake, _asterisk.settings, _asterisk.world
STAYS, LEAVES, RINGING = "+8613800000011", "+8613800000012", "+8613800000013"
LEASE = timedelta(minutes=5)
# Asked whether to go on or start over when the interview resumes (a call adopted after a restart)
RESIDENT = {**COMPLETE_BY_PROMPT, "msg/resume_menu": Press("1")}


def _serve(db_url: str, settings: Settings, folder: Path, name: str) -> Child:
    env = {"MINYI_DATABASE_URL": db_url, "ARI_URL": settings.ari_url, "ARI_USERNAME": settings.ari_username,
           "ARI_PASSWORD": settings.ari_password, "ARI_APP": settings.ari_app,
           "ASTERISK_ENDPOINT": settings.asterisk_endpoint, "MINYI_RECORDINGS_DIR": settings.recordings_dir}
    return spawn(minyi("ari", "--verbose"), env, folder / f"{name}.log")


def _leased(world: World, number: str) -> CallRequest:
    """A new attempt on ``number``'s case, the case leased to the dialer as it leases them."""
    request = world.dial(number)
    with session_scope(world.sessions) as s:
        assert lease(s, [request.case_id], "dialer", world.clock.now(), LEASE)
    return request


def _answers(sessions: sessionmaker[Session]) -> dict[tuple[int, str], object]:
    with sessions() as s:
        return {(i, q): c for i, q, c in s.execute(select(Answer.interview_id, Answer.question_id, Answer.code))}


def _answered(sessions: sessionmaker[Session], case_id: int) -> int:
    with sessions() as s:
        return s.scalar(select(func.count(Answer.id)).join(Interview).where(Interview.case_id == case_id)) or 0


def _ended(sessions: sessionmaker[Session], attempt_id: int) -> bool:
    with sessions() as s:
        attempt = s.get(CallAttempt, attempt_id)
        return attempt is not None and attempt.status in ATTEMPT_ENDED


def _live(fake: FakeAsterisk, request: CallRequest) -> bool:
    return any(c.startswith(f"minyi-{request.attempt_id}-") for c in fake.live_channels())


def _reconcile(world: World) -> int:
    """The dialer's housekeeping once the leases of calls nobody reported have run out."""
    clock = VirtualClock(world.clock.now() + LEASE + timedelta(seconds=1))
    with session_scope(world.sessions) as s:
        survey = s.get(Survey, world.survey_id)
        assert survey is not None
        return reap(s, survey.id, clock, DialPolicy.from_survey(survey))


def test_calls_survive_a_killed_ari_app(fake: FakeAsterisk, world: World, settings: Settings, db_url: str,
                                        tmp_path: Path) -> None:
    fake.prompt_s = 4.0
    fake.residents[STAYS] = Resident(by_prompt=RESIDENT)
    fake.residents[LEAVES] = Resident(by_prompt=RESIDENT)
    fake.residents[RINGING] = Resident(ring_s=20, by_prompt=RESIDENT)  # answers while nobody serves
    server = _serve(db_url, settings, tmp_path, "ari1")
    options = AsteriskOptions.from_settings(settings, timing=Timing(scale=0.03))
    dialer = AsteriskChannel(settings, world.sessions, world.clock, serve=False, options=options).start()
    try:
        wait_for(lambda: fake.connected, 30, "minyi ari to connect")
        stays, leaves = _leased(world, STAYS), _leased(world, LEAVES)
        assert dialer.place_call(stays) is None and dialer.place_call(leaves) is None
        wait_for(lambda: min(_answered(world.sessions, r.case_id) for r in (stays, leaves)) >= 3, 30, "answers")
        ringing = _leased(world, RINGING)
        assert dialer.place_call(ringing) is None
        server.kill()
        before = _answers(world.sessions)
        fake.hang_up(LEAVES)  # while nobody follows the call
        wait_for(lambda: not fake.connected, 10, "the WebSocket to drop")
        wait_for(lambda: not _live(fake, ringing), 30, "the ringing call to be answered while nobody serves")
        restarted = _serve(db_url, settings, tmp_path, "ari2")
        wait_for(lambda: _ended(world.sessions, stays.attempt_id), 60, "the adopted call to end")
        restarted.kill()
    finally:
        dialer.close()
    assert _reconcile(world) == 2

    after = _answers(world.sessions)
    assert before.items() <= after.items()
    _check_outcomes(world, stays, leaves, ringing)
    logs = server.output() + restarted.output()
    assert "adopting channel" in logs
    basic = base64.b64encode(f"{settings.ari_username}:{settings.ari_password}".encode()).decode()
    assert settings.ari_password not in logs and basic not in logs


def _check_outcomes(world: World, stays: CallRequest, leaves: CallRequest, ringing: CallRequest) -> None:
    adopted, left, lost = (world.outcome(r.attempt_id) for r in (stays, leaves, ringing))
    assert adopted.interview is not None and adopted.interview.status == InterviewStatus.COMPLETE
    assert adopted.answers["q_procuratorate"] == 3 and adopted.answers["d_years"] == 15.0
    assert left.attempt.error == "lease expired: outcome taken from the interview"
    assert left.interview is not None and left.interview.status in RESUMABLE
    assert left.interview.current_question not in left.answers  # resumes at the question it stopped at
    assert lost.attempt.outcome == CallStatus.UNKNOWN and lost.interview is None
    for outcome in (adopted, left, lost):
        assert outcome.attempt.status in ATTEMPT_ENDED and outcome.attempt.temp_disposition
