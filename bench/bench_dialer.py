"""Dialer benchmarks.

1. Picking: the time to pick and lease the next 100 due cases out of 1,000,000 (21 townships, a
   realistic mix of new, scheduled, callback and final cases), on PostgreSQL and on SQLite. The
   cases are bulk-inserted (COPY on PostgreSQL, executemany on SQLite).
2. A simulated campaign: 100,000 cases imported from a frame and dialled on a virtual clock with
   the scripted fake channel until every case has its final code (on SQLite, and on PostgreSQL).
3. Workers on one PostgreSQL: the calls per second of one worker process, then of four, on the same
   database of 50,000 cases (alternating, twice each), each call taking 100 ms of real time in the
   fake channel as a line would (calls of ten lines placed one after another): a worker is bound by its calls, so four scale unless they wait on
   each other in the database.

    .venv/bin/python bench/bench_dialer.py [--cases 1000000] [--campaign 100000] [--workers-cases 50000]
        [--workers-seconds 20] [--workers-call-ms 100] [--skip-pg] [--no-callbacks]
    .venv/bin/python bench/bench_dialer.py --picks-only [--no-callbacks] [--old-tree DIR] [--rounds 30] [--townships 21]
        (PostgreSQL pick rounds only: bench/pick_rounds.py)
    .venv/bin/python bench/bench_dialer.py --campaign-only [--campaign 10000] [--skip-pg] [--old-tree DIR] [--rounds 2]
        (simulated campaigns only, this tree's and another checkout's alternately: bench/campaign_rounds.py)

PostgreSQL: ``MINYI_BENCH_PG`` (default postgresql+psycopg://postgres@127.0.0.1:5432/test) names a
server database; the benchmark creates its own database next to it and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "dialer"))

import campaign_rounds  # noqa: E402
import pick_rounds  # noqa: E402
from dialer_fakes import ALWAYS_OPEN, VAULT, ScriptedChannel, make_survey, random_outcomes  # noqa: E402
from sqlalchemy import Engine, create_engine, func, select, text  # noqa: E402

from dialer import leases, quotas  # noqa: E402
from dialer.frames import Frame, FrameRow  # noqa: E402
from dialer.sample import import_sample  # noqa: E402
from dialer.worker import WorkerOptions, run_worker  # noqa: E402
from survey.clock import VirtualClock  # noqa: E402
from survey.db import make_engine, session_factory, session_scope, upgrade  # noqa: E402
from survey.models import Case  # noqa: E402
from survey.vocabulary import CaseStatus  # noqa: E402

START = datetime(2026, 11, 2, 10, 30)  # Monday 18:30 in Asia/Shanghai
TOWNSHIPS = 21
WORKER = ROOT / "tests" / "dialer" / "dialer_worker_proc.py"
PG_ADMIN = os.environ.get("MINYI_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"minyi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def case_rows(n: int, survey_id: int, strata: list[int], now: datetime) -> Iterator[tuple[object, ...]]:
    """(contact_id, stratum_id, status, next_attempt_at, attempts): 40% new, 40% scheduled (half of
    them due), 1% callbacks, the rest final."""
    rng = random.Random(1)
    for i in range(1, n + 1):
        r = rng.random()
        if r < 0.40:
            status, due, attempts = CaseStatus.NEW, now - timedelta(days=1), 0
        elif r < 0.80:
            status, attempts = CaseStatus.SCHEDULED, rng.randint(1, 5)
            due = now + timedelta(minutes=rng.randint(-600, 600))
        elif r < 0.81:
            status, due, attempts = CaseStatus.CALLBACK, now + timedelta(minutes=rng.randint(-60, 600)), 1
        else:
            status, due, attempts = CaseStatus.FINAL, None, rng.randint(1, 8)
        yield i, strata[i % len(strata)], status, due, attempts


def bulk_load(engine: Engine, n: int, settings: dict[str, object] | None = None, townships: int = TOWNSHIPS) -> int:
    """A survey with 21 townships and ``n`` cases (and contacts, all of one number); returns the
    survey id."""
    clock = VirtualClock(START)
    with session_scope(session_factory(engine)) as s:
        survey = make_survey(s, clock, quotas=[n] * townships, settings=settings)
        survey_id, strata = survey.id, [st.id for st in survey.strata]
    now = clock.now()
    number = VAULT.encrypt("+8613900000000")
    contacts = ((i, number, f"{i:064x}", "+86139****0000", "mobile") for i in range(1, n + 1))
    cases = ((cid, survey_id, sid, 1, status, 0, attempts, due, False, "{}", now, now)
             for cid, sid, status, due, attempts in case_rows(n, survey_id, strata, now))
    case_cols = ("contact_id", "survey_id", "stratum_id", "replicate", "status", "priority", "attempts",
                 "next_attempt_at", "contacted", "frame", "created_at", "updated_at")
    if engine.dialect.name == "postgresql":
        _copy(engine, "contacts", ("id", "number_enc", "number_hash", "number_masked", "line_type"), contacts)
        _copy(engine, "cases", case_cols, cases)
        with engine.begin() as conn:
            conn.execute(text("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))"))
            conn.execute(text("ANALYZE contacts; ANALYZE cases"))
    else:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.executemany("INSERT INTO contacts (id, number_enc, number_hash, number_masked, line_type) "
                            "VALUES (?, ?, ?, ?, ?)", contacts)
            raw.executemany(f"INSERT INTO cases ({', '.join(case_cols)}) VALUES ({', '.join('?' * len(case_cols))})",
                            (tuple(_sqlite_value(v) for v in row) for row in cases))
            conn.execute(text("ANALYZE"))
    return int(survey_id)


def _sqlite_value(value: object) -> object:
    """SQLAlchemy stores naive datetimes in SQLite as ISO text with a space."""
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value


def _copy(engine: Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple[object, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        pg.commit()
    finally:
        raw.close()


def time_picks(engine: Engine, survey_id: int, rounds: int = 20) -> list[float]:
    """Milliseconds to pick and lease 100 due cases, ``rounds`` times (each round's leases stay)."""
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        strata = quotas.progress(s, survey_id)
    times = []
    now = START
    for r in range(rounds):
        t0 = time.perf_counter()
        with session_scope(sessions) as s:
            got = leases.lease_due(s, survey_id, now, 100, quotas.allocate(strata, 100, 10.0), f"bench-{r}",
                                   timedelta(minutes=30))
        times.append((time.perf_counter() - t0) * 1000)
        assert len(got) == 100, len(got)
    return times


def time_progress(engine: Engine, survey_id: int) -> float:
    t0 = time.perf_counter()
    with session_scope(session_factory(engine)) as s:
        quotas.progress(s, survey_id)
    return (time.perf_counter() - t0) * 1000


def load_for_picks(engine: Engine, n: int, callbacks: bool, townships: int = TOWNSHIPS, revision: str = "head") -> int:
    """The cases of the pick benchmark (with ``callbacks`` due or none), in the schema of
    ``revision``; returns the survey id."""
    upgrade(engine, revision)
    survey_id = bulk_load(engine, n, townships=townships)
    if not callbacks:  # with them, 100 callbacks due fill every pick and the townships are never read
        with engine.begin() as conn:
            conn.execute(text("UPDATE cases SET status = 'final' WHERE status = 'callback'"))
            conn.execute(text("ANALYZE cases"))
    if engine.dialect.name == "postgresql":  # as autovacuum leaves cases loaded a while ago: hint bits set
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE cases"))
    return survey_id


def bench_pick(name: str, url: str, n: int, callbacks: bool = True) -> None:
    engine = make_engine(url)
    t0 = time.perf_counter()
    survey_id = load_for_picks(engine, n, callbacks)
    name += "" if callbacks else " (no callbacks)"
    load_s = time.perf_counter() - t0
    times = time_picks(engine, survey_id)
    print(f"{name:10} {n:,} cases loaded in {load_s:.1f} s; pick+lease 100 due: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms (20 rounds); township progress query {time_progress(engine, survey_id):.0f} ms")
    engine.dispose()


def bench_campaign(name: str, url: str, n: int) -> None:
    """Every case released and dialled until it has a final code (quotas too high to stop it)."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = VirtualClock(START)
    t0 = time.perf_counter()
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=[n] * TOWNSHIPS,
                             settings={"pacing": {"trunks": [{"name": "main", "lines": 200, "cps": 20}]}})
        codes = [st.code for st in survey.strata]
        rows = tuple(FrameRow(i + 2, {"number": f"+86139{i:08d}", "township": codes[i % TOWNSHIPS]})
                     for i in range(n))
        frame = Frame("utf-8-sig", {"number": "number", "township": "township"}, (), rows)
        import_sample(s, survey, frame, VAULT, clock.now())
    import_s = time.perf_counter() - t0
    channel = ScriptedChannel(clock, default=random_outcomes(11))
    report = run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey="S1", owner="bench"))
    with session_scope(sessions) as s:
        open_cases = s.scalar(select(func.count()).select_from(Case).where(Case.status != CaseStatus.FINAL))
    days = (report.ended - report.started).total_seconds() / 86400
    print(f"campaign   {name:10} {n:,} cases in {TOWNSHIPS} townships, 200 lines, fake channel: import {import_s:.1f} s; "
          f"dialling {report.elapsed_s:.1f} s wall ({report.placed / report.elapsed_s:.0f} calls/s) for "
          f"{report.placed:,} calls over {days:.1f} days of fieldwork; {open_cases} case(s) left open; "
          f"stop: {report.stop_reason}")
    engine.dispose()


def bench_workers(n: int, seconds: float, call_s: float) -> None:
    """Calls per second of 1 and of 4 worker processes (``dialer_worker_proc.py``) on one database,
    alternating 1, 4, 1, 4, each run ``seconds`` long."""
    settings = {"calling_windows": ALWAYS_OPEN, "pacing": {"trunks": [{"name": "main", "lines": 10, "cps": 100}]}}
    rates: dict[int, list[float]] = {1: [], 4: []}
    with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url)
        upgrade(engine)
        bulk_load(engine, n, settings)
        engine.dispose()
        for run, count in enumerate((1, 4, 1, 4)):
            procs = [subprocess.Popen([sys.executable, str(WORKER), url, f"w{run}-{i}", str(call_s),
                                       str(Path(tmp) / f"w{run}-{i}.calling"), f"max_seconds={seconds}",
                                       "housekeeping_every=60"],
                                      stdout=subprocess.PIPE, text=True) for i in range(count)]
            placed = sum(json.loads(p.communicate()[0])["placed"] for p in procs)
            rates[count].append(placed / seconds)
    one, four = statistics.mean(rates[1]), statistics.mean(rates[4])
    print(f"workers    PostgreSQL, {n:,} cases, calls of {call_s * 1000:.0f} ms, {seconds:.0f} s runs: 1 worker "
          f"{' / '.join(f'{r:.0f}' for r in rates[1])} calls/s, 4 workers {' / '.join(f'{r:.0f}' for r in rates[4])} "
          f"calls/s: {four / one:.2f} times one worker")


def picks_only(n: int, callbacks: bool, old_tree: Path | None, rounds: int, townships: int) -> None:
    with postgres_database() as url:
        engine = make_engine(url)
        survey_id = load_for_picks(engine, n, callbacks, townships, "head" if old_tree is None else _head(old_tree))
        engine.dispose()
        print(f"PostgreSQL, {n:,} cases in {townships:,} townships{'' if callbacks else ' (no callbacks)'}")
        pick_rounds.alternate(url, survey_id, old_tree, rounds)


def _head(tree: Path) -> str:
    """The newest migration of another checkout: the schema both trees have."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(tree / "survey" / "migrations")).get_current_head()
    assert head is not None
    return head


def campaigns_only(n: int, skip_pg: bool, old_tree: Path | None, rounds: int) -> None:
    @contextmanager
    def sqlite() -> Iterator[str]:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/campaign.db"

    campaign_rounds.alternate(sqlite, "sqlite", n, old_tree, rounds)
    if not skip_pg:
        campaign_rounds.alternate(postgres_database, "postgresql", n, old_tree, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--campaign", type=int, default=100_000)
    parser.add_argument("--workers-cases", type=int, default=50_000)
    parser.add_argument("--workers-seconds", type=float, default=20.0)
    parser.add_argument("--workers-call-ms", type=float, default=100.0, help="real time each fake call takes")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--no-callbacks", action="store_true", help="finalise the callbacks: picks read the townships")
    parser.add_argument("--picks-only", action="store_true", help="only pick rounds on PostgreSQL (bench/pick_rounds.py)")
    parser.add_argument("--campaign-only", action="store_true", help="only simulated campaigns (bench/campaign_rounds.py)")
    parser.add_argument("--old-tree", type=Path, help="with --picks-only or --campaign-only: another checkout's, alternating")
    parser.add_argument("--rounds", type=int, help="with --picks-only (default 30) or --campaign-only (2): rounds per side")
    parser.add_argument("--townships", type=int, default=TOWNSHIPS, help="with --picks-only: e.g. 3350, a province")
    args = parser.parse_args()
    if args.campaign_only:
        campaigns_only(args.campaign, args.skip_pg, args.old_tree, args.rounds or 2)
        return
    if args.picks_only:
        picks_only(args.cases, not args.no_callbacks, args.old_tree, args.rounds or 30, args.townships)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_pg:
            with postgres_database() as url:
                bench_pick("postgresql", url, args.cases, not args.no_callbacks)
        bench_pick("sqlite", f"sqlite:///{tmp}/pick.db", args.cases, not args.no_callbacks)
        bench_campaign("sqlite", f"sqlite:///{tmp}/campaign.db", args.campaign)
        if not args.skip_pg:
            with postgres_database() as url:
                bench_campaign("postgresql", url, args.campaign)
            bench_workers(args.workers_cases, args.workers_seconds, args.workers_call_ms / 1000)


if __name__ == "__main__":
    main()
