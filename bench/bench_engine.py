"""How fast the interview engine runs: pure engine steps per second, and whole simulated interviews
per second with every answer stored in SQLite (the simulated channel, as ``minyi demo`` uses it).

    .venv/bin/python bench/bench_engine.py [--interviews 2000] [--calls 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dialer.protocol import CallRequest
from ivr.channels.simulated import Behaviour, FrameMix, SimulatedChannel, World
from ivr.channels.simulated.behaviour import DAYPARTS
from ivr.engine import Answered, Digits, Engine, Event, RecordingDone, Timeout
from survey.clock import VirtualClock
from survey.db import make_engine, session_factory, session_scope, upgrade
from survey.models import CallAttempt, Case, Contact
from survey.phones import PhoneVault, mask
from survey.questionnaire import load_bundled
from survey.surveys import create_survey
from survey.vocabulary import CallStatus

START = datetime(2026, 11, 2, 11, 0)  # a Monday, 19:00 in Asia/Shanghai
# Every question of the bundled questionnaire, some after a silence or a wrong key.
ANSWERS: dict[str, list[Event]] = {
    "consent": [Digits("1")], "s_age": [Digits("1")], "s_resident": [Timeout(), Digits("1")],
    "q_safety": [Digits("4")], "q_worries": [Digits("13#")], "q_trend": [Digits("7"), Digits("1")],
    "q_police": [Digits("2")], "q_court": [Digits("3")], "q_procuratorate": [Digits("6")],
    "q_justice": [Digits("*"), Digits("1")], "q_overall": [Digits("2")], "q_suggest_yn": [Digits("1")],
    "q_suggest": [RecordingDone("rec.wav", 20.0)], "d_age": [Digits("2")], "d_sex": [Digits("1")],
    "d_years": [Digits("150"), Digits("12#")],
}


def engine_steps_per_second(interviews: int) -> tuple[float, int]:
    """Complete interviews through the pure engine: (steps per second, steps taken)."""
    questionnaire = load_bundled()
    clock = VirtualClock(START)
    steps = 0
    began = time.perf_counter()
    for _ in range(interviews):
        engine = Engine(questionnaire, clock)
        step = engine.handle(Answered())
        step = engine.handle(Digits("1"))
        steps += 2
        pending: list[Event] = []
        while not engine.finished:
            if not pending:
                pending = list(ANSWERS[str(step.question_id)])
            clock.advance(timedelta(seconds=2))
            step = engine.handle(pending.pop(0))
            engine.drain_effects()
            steps += 1
    elapsed = time.perf_counter() - began
    return steps / elapsed, steps


def simulated_interviews_per_second(calls: int, folder: Path) -> tuple[float, float, int]:
    """Calls on the simulated channel where everyone picks up, each stored in SQLite:
    (interviews per second, calls per second, completes)."""
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    clock = VirtualClock(START)
    world = World(seed=1, mix=FrameMix(non_working=0.0, fax=0.0))
    behaviour = Behaviour(pickup={part: dict.fromkeys(("18-29", "30-44", "45-59", "60+"), 1.0) for part in DAYPARTS},
                          busy=0.0)
    requests = _requests(sessions, clock, world, calls)
    channel = SimulatedChannel(sessions, clock, world, seed=1, behaviour=behaviour)
    began = time.perf_counter()
    results = [channel.place_call(r) for r in requests]
    elapsed = time.perf_counter() - began
    engine.dispose()
    interviews = sum(r.status == CallStatus.ANSWERED and r.interview_status is not None for r in results)
    completes = sum(r.interview_status == "complete" for r in results)
    return interviews / elapsed, len(results) / elapsed, completes


def _requests(sessions: sessionmaker[Session], clock: VirtualClock, world: World, calls: int) -> list[CallRequest]:
    vault = PhoneVault("bench")
    rows = world.sample(calls // len(world.townships) + 1)[:calls]
    requests = []
    with session_scope(sessions) as s:
        survey = create_survey(s, "BENCH", load_bundled(), clock, period="2026-11", strata=world.strata(100))
        strata = {st.code: st.id for st in survey.strata}
        for row in rows:
            contact = Contact(number_enc=vault.encrypt(row.number), number_hash=vault.hash(row.number),
                              number_masked=mask(row.number))
            s.add(contact)
            s.flush()
            case = Case(survey_id=survey.id, stratum_id=strata[row.township], contact_id=contact.id,
                        created_at=clock.now(), updated_at=clock.now())
            s.add(case)
            s.flush()
            attempt = CallAttempt(case_id=case.id, survey_id=survey.id, channel="simulated", started_at=clock.now())
            s.add(attempt)
            s.flush()
            requests.append(CallRequest(attempt.id, case.id, None, row.number, "", None))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interviews", type=int, default=2000, help="pure-engine interviews (default 2000)")
    parser.add_argument("--calls", type=int, default=500, help="simulated calls stored in SQLite (default 500)")
    args = parser.parse_args()
    rate, steps = engine_steps_per_second(args.interviews)
    print(f"engine: {rate:,.0f} steps/s ({steps:,} steps in {args.interviews:,} interviews, pure engine)")
    with tempfile.TemporaryDirectory() as folder:
        interviews, calls, completes = simulated_interviews_per_second(args.calls, Path(folder))
    print(f"simulated channel + SQLite: {interviews:,.1f} interviews/s, {calls:,.1f} calls/s "
          f"({args.calls:,} calls, {completes:,} completes)")


if __name__ == "__main__":
    main()
