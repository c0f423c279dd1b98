"""`minyi dial --channel asterisk` (the Stasis app inside the dialer) SIGKILLed at each phase of a
call - ringing, mid-interview, during the goodbye, between calls - and restarted under the same
``--worker-id``: the restarted worker takes its predecessor's leases back at once, adopts the
calls still up, and at the end no answer is lost, no case has two interviews, no lease is left
and every attempt has ended with a hang-up cause. Then SIGTERM drains the calls in progress."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ari_fake import FakeAsterisk, Press, Resident
from asterisk_world import COMPLETE_BY_PROMPT, World, wait_for
from reliability_support import Child, minyi, sibling_conftest, spawn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.frames import Frame, FrameRow
from dialer.sample import import_sample
from survey.config import Settings
from survey.db import session_scope
from survey.models import Answer, CallAttempt, Case, Interview, Survey
from survey.vocabulary import ATTEMPT_ENDED, CaseStatus, InterviewStatus

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

_asterisk = sibling_conftest("asterisk")
ari_spec, fake, settings, world = _asterisk.ari_spec, _asterisk.fake, _asterisk.settings, _asterisk.world
NUMBERS = [f"+86138000001{i:02d}" for i in range(8)]
RESIDENT = Resident(ring_s=20, by_prompt={**COMPLETE_BY_PROMPT, "msg/resume_menu": Press("1")})


def _sample(world: World, numbers: Sequence[str] = NUMBERS) -> None:
    """The numbers as a frame, callable around the clock with no field period."""
    with session_scope(world.sessions) as s:
        survey = s.get(Survey, world.survey_id)
        assert survey is not None
        survey.calling_windows = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}
        survey.field_start = survey.field_end = None
        rows = tuple(FrameRow(i + 2, {"number": n, "township": "T01"}) for i, n in enumerate(numbers))
        import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows), world.vault,
                      world.clock.now())


def _env(db_url: str, settings: Settings) -> dict[str, str]:
    return {"MINYI_DATABASE_URL": db_url, "MINYI_SECRET_KEY": "test-secret", "ARI_URL": settings.ari_url,
            "ARI_USERNAME": settings.ari_username, "ARI_PASSWORD": settings.ari_password, "ARI_APP": settings.ari_app,
            "ASTERISK_ENDPOINT": settings.asterisk_endpoint, "MINYI_RECORDINGS_DIR": settings.recordings_dir}


def _dial(db_url: str, settings: Settings, folder: Path, name: str, drain_s: int = 0, *options: str) -> Child:
    args = minyi("dial", "--survey", "S1", "--channel", "asterisk", "--quiet", "--worker-id", "w1",
                 "--drain-seconds", str(drain_s), *(options or ("--lines", "1")))
    return spawn(args, _env(db_url, settings), folder / f"{name}.log")


def _open(s: Session) -> list[CallAttempt]:
    return list(s.scalars(select(CallAttempt).where(CallAttempt.status.not_in(ATTEMPT_ENDED))))


def _answers_of(s: Session, attempt: CallAttempt) -> int:
    return s.scalar(select(func.count(Answer.id)).join(Interview).where(Interview.case_id == attempt.case_id)) or 0


def _ringing(s: Session) -> bool:
    return any(a.answered_at is None for a in _open(s))


def _mid_interview(s: Session) -> bool:
    return any(_answers_of(s, a) >= 3 and not _complete(s, a) for a in _open(s))


def _goodbye(s: Session) -> bool:
    return any(_complete(s, a) for a in _open(s))


def _between_calls(s: Session) -> bool:
    ended = s.scalar(select(func.count(CallAttempt.id)).where(CallAttempt.status.in_(ATTEMPT_ENDED))) or 0
    return ended > 0 and not _open(s)


def _complete(s: Session, attempt: CallAttempt) -> bool:
    return s.scalar(select(func.count(Interview.id)).where(
        Interview.last_attempt_id == attempt.id, Interview.status == InterviewStatus.COMPLETE)) == 1


def _answers(sessions: sessionmaker[Session]) -> set[tuple[int, str, object]]:
    with sessions() as s:
        return set(s.execute(select(Answer.interview_id, Answer.question_id, Answer.code)).all())


def _kill_when(phase: Callable[[Session], bool], worker: Child, sessions: sessionmaker[Session]) -> None:
    _until(phase, worker, sessions)
    worker.kill()


def _until(phase: Callable[[Session], bool], worker: Child, sessions: sessionmaker[Session]) -> None:
    deadline = time.monotonic() + 20
    while True:
        with sessions() as s:
            if phase(s):
                break
        assert worker.running, worker.output()
        assert time.monotonic() < deadline, f"no {phase.__name__} phase:\n{worker.output()}"
        time.sleep(0.02)


def test_a_dialer_killed_at_each_phase_of_a_call_loses_nothing(fake: FakeAsterisk, world: World, settings: Settings,
                                                               db_url: str, tmp_path: Path) -> None:
    fake.prompt_s = 4.0
    for number in NUMBERS:
        fake.residents[number] = RESIDENT
    _sample(world)
    before: set[tuple[int, str, object]] = set()
    for n, phase in enumerate((_ringing, _mid_interview, _goodbye, _between_calls)):
        worker = _dial(db_url, settings, tmp_path, f"w{n}")
        _kill_when(phase, worker, world.sessions)
        before = _answers(world.sessions)
    last = _dial(db_url, settings, tmp_path, "last")
    assert last.wait(60) == 0, last.output()
    assert "stopped: nothing due now" in last.output()
    assert before <= _answers(world.sessions)
    _check_fieldwork(world.sessions)


def _check_fieldwork(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        attempts = list(s.scalars(select(CallAttempt)))
        assert all(a.status in ATTEMPT_ENDED and a.hangup_cause for a in attempts), [
            (a.id, a.status, a.hangup_cause, a.error) for a in attempts]
        assert s.scalar(select(func.count(Case.id)).where(
            (Case.status == CaseStatus.LEASED) | Case.lease_owner.is_not(None))) == 0
        per_case = s.execute(select(Interview.case_id, func.count(Interview.id)).group_by(Interview.case_id)).all()
        assert all(n == 1 for _case, n in per_case), per_case
        assert s.scalar(select(func.count(Interview.id)).where(Interview.status == InterviewStatus.COMPLETE)) >= 1


def test_sigterm_stops_dialling_and_drains_the_call_in_progress(fake: FakeAsterisk, world: World, settings: Settings,
                                                                 db_url: str, tmp_path: Path) -> None:
    fake.prompt_s = 4.0
    for number in NUMBERS:
        fake.residents[number] = RESIDENT
    _sample(world)
    worker = _dial(db_url, settings, tmp_path, "w", drain_s=30)
    _until(_mid_interview, worker, world.sessions)
    worker.popen.send_signal(signal.SIGTERM)
    assert worker.wait(40) == 0, worker.output()
    assert "stopped: asked to stop (SIGTERM or SIGINT); 1 call(s) placed" in worker.output()
    _check_fieldwork(world.sessions)  # the call finished its interview in the drain


def test_minyi_ari_serves_the_calls_a_separate_minyi_dial_places(fake: FakeAsterisk, world: World,
                                                                  settings: Settings, db_url: str,
                                                                  tmp_path: Path) -> None:
    """`minyi ari` serves the Stasis app, `minyi dial --no-serve` only originates into it: the
    serving process stores every result, and the dialer's summary, printed once they are all in,
    counts them."""
    for number in NUMBERS:
        fake.residents[number] = Resident(ring_s=5, by_prompt=COMPLETE_BY_PROMPT)
    _sample(world)
    server = spawn(minyi("ari"), _env(db_url, settings), tmp_path / "ari.log")
    try:
        wait_for(lambda: fake.connected, 30, "minyi ari to register the app")
        dialer = _dial(db_url, settings, tmp_path, "dial", 0, "--no-serve", "--lines", "4")
        assert dialer.wait(120) == 0, dialer.output()
        with world.sessions() as s:  # when the summary was printed
            assert not _open(s), [(a.id, a.status) for a in _open(s)]
        assert f"stopped: nothing due now; {len(NUMBERS)} call(s) placed, {len(NUMBERS)} finished," \
            in dialer.output(), dialer.output()
        assert fake.connected and fake.replaced == 0  # the dialer never took the app
    finally:
        server.kill()
    assert server.output().count("adopting channel") == len(NUMBERS)
    _check_fieldwork(world.sessions)
    with world.sessions() as s:
        assert s.scalar(select(func.count(Interview.id)).where(Interview.status == InterviewStatus.COMPLETE)) == \
            len(NUMBERS)
