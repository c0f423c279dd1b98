"""The main job on embedded defaults: a simulated county's survey round, start to bulletin.

Two rounds are fielded (the previous period and the current one) so that the bulletin can show
change; each runs the real dialer, engine and storage over the simulated channel on a virtual
clock. The world knows every township's true rates, so the result can be checked against them.

The rounds are independent surveys and the work is CPU-bound Python, so the previous period is
imported and dialled in a second process while this one does the current period (and shows it):
on two cores the demo takes little more than one round. Both write to the one SQLite file,
taking turns (:mod:`survey.sqlite_turns`); each round's calls draw their chance from the number
and the moment of the call, not from database ids, so the result does not depend on the
interleaving.
"""

from __future__ import annotations

import multiprocessing
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from analysis.results import COUNTY, AnalysisResult, Estimate, OutcomeRates
from dialer.close import close_survey
from dialer.frames import read_frame
from dialer.sample import import_sample
from dialer.worker import Progress, WorkerOptions, WorkerReport, run_worker
from ivr.channels.simulated import SimulatedChannel
from ivr.channels.simulated.world import World
from reports.dispositions import survey_rates
from reports.results import analyse, bundled_analysis_spec
from survey.clock import VirtualClock, from_local
from survey.config import Settings
from survey.db import make_engine, session_factory, session_scope, upgrade
from survey.phones import PhoneKeys, PhoneVault, configured_vault
from survey.questionnaire import load_bundled
from survey.surveys import create_survey, survey_by_code

TIMEZONE = "Asia/Shanghai"
HEADLINE = ("safety", "satisfaction")


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("demo")
    seed: int = 2026
    townships: int = 21
    quota: int = 100  # completes wanted per township
    numbers_per_complete: int = 6  # phone numbers drawn per wanted complete
    replicate_size: int = 100
    period: str = "2026-10"
    previous_period: str = "2026-09"
    field_days: int = 24
    issue_no: int = 11
    lines: int = 40


@dataclass
class RoundReport:
    code: str
    period: str
    worker: WorkerReport


@dataclass
class DemoResult:
    database: Path
    bulletin: Path
    rounds: list[RoundReport]
    analysis: AnalysisResult
    rates: list[OutcomeRates]
    truth: dict[str, dict[str, float]]  # index -> township (and ALL) -> true value
    raw: dict[str, dict[str, float]]  # index -> township -> unweighted share / mean
    names: dict[str, str]
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def estimate(self, index: str, township: str, period: str) -> Estimate | None:
        return next((e for e in self.analysis.estimates
                     if e.index == index and e.stratum == township and e.period == period), None)


def fresh_database(out: Path) -> tuple[Path, sessionmaker[Session]]:
    """An empty, migrated SQLite database in ``out`` (a previous demo's files are removed)."""
    if out.exists():
        for name in ("minyi.db", "minyi.db-wal", "minyi.db-shm", "minyi.db.writers", "bulletin.pdf"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "frames", ignore_errors=True)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    path = out / "minyi.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return path, session_factory(engine)


def create_round(sessions: sessionmaker[Session], world: World, options: DemoOptions, period: str,
                 start: datetime) -> tuple[str, VirtualClock]:
    """Create the round's survey; returns its code and the round's clock, a minute before its
    first call (``start``, local time)."""
    code = f"demo-{period}"
    first_call = from_local(start, TIMEZONE)
    settings = {"timezone": TIMEZONE, "field_start": first_call,
                "field_end": first_call + timedelta(days=options.field_days),
                "analysis_spec": bundled_analysis_spec(),
                "pacing": {"trunks": [{"name": "sim", "lines": options.lines, "cps": 10.0,
                                       "caller_ids": ["+8673112340"]}]}}
    clock = VirtualClock(first_call - timedelta(minutes=1))
    with session_scope(sessions) as session:
        create_survey(session, code, load_bundled(), clock, period=period, strata=world.strata(options.quota),
                      issue_no=options.issue_no if period == options.period else options.issue_no - 1,
                      settings=settings)
    return code, clock


def field_round(sessions: sessionmaker[Session], world: World, options: DemoOptions, code: str, period: str,
                clock: VirtualClock, vault: PhoneVault, progress: Callable[[Progress], None] | None) -> RoundReport:
    """Check the channel as ``minyi dial`` does (:class:`dialer.protocol.ChannelNotReady` if it
    cannot carry the round), import the round's frame, dial until its quotas are met (or its field
    period ends), close it."""
    channel = SimulatedChannel(sessions, clock, world, seed=options.seed)
    with session_scope(sessions) as session:
        survey_id = survey_by_code(session, code).id
    channel.preflight(survey_id)
    rows = world.sample(options.quota * options.numbers_per_complete, draw=period)
    frame_path = world.write_frame_csv(rows, options.out / "frames" / f"{code}.csv")
    with session_scope(sessions) as session:
        import_sample(session, survey_by_code(session, code), read_frame(frame_path), vault, clock.now(),
                      replicate_size=options.replicate_size, seed=options.seed)
    report = run_worker(sessions, channel, clock, vault, WorkerOptions(survey=code), progress)
    with session_scope(sessions) as session:
        close_survey(session, survey_by_code(session, code), clock)
    return RoundReport(code, period, report)


def _field_previous_round(database: Path, options: DemoOptions, code: str, start: datetime,
                          keys: PhoneKeys) -> RoundReport:
    """:func:`field_round` for the previous period, in a process of its own: the same world one
    period earlier, over its own connection to the demo's database."""
    sessions = session_factory(make_engine(f"sqlite:///{database}"))
    world = World(seed=options.seed, townships=options.townships).previous()
    return field_round(sessions, world, options, code, options.previous_period, VirtualClock(start),
                       PhoneVault(keys), None)


@contextmanager
def _second_process() -> Iterator[ProcessPoolExecutor]:
    """A process for the previous round. Spawned, not forked: a fork would inherit this process's
    SQLite connections and display thread. Deaf to Ctrl-C, which reaches both processes: this one
    reports it and ends the other, as it does when its own round fails; what the other had not
    committed is lost with it, which SQLite guarantees is harmless."""
    before = set(multiprocessing.active_children())
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with _ctrl_c_ignored():  # inherited by the process started now
            pool.submit(_ready)  # it starts (imports) while this one creates both rounds
        try:
            yield pool
        except BaseException:
            for child in set(multiprocessing.active_children()) - before:
                child.terminate()
            raise


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ctrl-C ignored by this process for the block, and by the processes it starts meanwhile,
    which inherit that (Python then installs no KeyboardInterrupt handler of its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread handles signals, and Ctrl-C reaches no other
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _ready() -> None:
    """Nothing: submitted first, it makes the second process start and import this module."""


def run_demo(options: DemoOptions, settings: Settings,
             progress: Callable[[Progress], None] | None = None) -> DemoResult:
    import time

    began = time.monotonic()
    database, sessions = fresh_database(options.out)
    vault = configured_vault(settings)
    world = World(seed=options.seed, townships=options.townships)
    spec = bundled_analysis_spec()
    with _second_process() as elsewhere:
        earlier, earlier_clock = create_round(sessions, world.previous(), options, options.previous_period,
                                              datetime(2026, 9, 7, 18, 0))
        code, clock = create_round(sessions, world, options, options.period, datetime(2026, 10, 12, 18, 0))
        previous = elsewhere.submit(_field_previous_round, database, options, earlier, earlier_clock.now(),
                                    vault.keys)
        current = field_round(sessions, world, options, code, options.period, clock, vault, progress)
        rounds = [previous.result(), current]
    bulletin = options.out / "bulletin.pdf"
    with session_scope(sessions) as session:
        survey = survey_by_code(session, f"demo-{options.period}")
        done = analyse(session, survey)
        rates = survey_rates(session, survey)
        names = {s.code: s.name_zh for s in survey.strata}
        responses = done.extracts[options.period].responses
        _write_bulletin(session, survey, done.run.result, done.periods, settings, bulletin, rounds[-1])
    by_town = world.true_indices({k: spec["indices"][k] for k in HEADLINE})
    truth = {index: {town: values[index] for town, values in by_town.items()} for index in HEADLINE}
    return DemoResult(database, bulletin, rounds, done.run.result, rates, truth,
                      _raw_shares(responses, spec, HEADLINE), names, time.monotonic() - began)


def _write_bulletin(session: Session, survey: object, result: AnalysisResult, periods: list[str],
                    settings: Settings, path: Path, last: RoundReport) -> None:
    from reports.bulletin import render_bulletin
    from reports.from_db import bulletin_data

    clock = VirtualClock(last.worker.ended + timedelta(days=2))
    data = bulletin_data(session, survey, clock, settings, analysis=result, periods=periods)  # type: ignore[arg-type]
    render_bulletin(data, path, "zh")


def _raw_shares(responses: pd.DataFrame, spec: dict[str, object], indices: tuple[str, ...]
                ) -> dict[str, dict[str, float]]:
    """Unweighted favourable shares among valid answers, per township and county."""
    out: dict[str, dict[str, float]] = {}
    for name in indices:
        index = spec["indices"][name]  # type: ignore[index]
        answers = responses[index["question"]]
        valid = answers.notna() & ~answers.isin(index.get("exclude", []))
        favourable = answers.isin(index["favourable"]) & valid
        by_town = favourable.groupby(responses["township"]).sum() / valid.groupby(responses["township"]).sum()
        out[name] = {**by_town.to_dict(), COUNTY: float(favourable.sum() / valid.sum())}
    return out
