"""Simulated campaigns of one tree or another, in a process of their own: wall and CPU time,
calls, SQL statements per call, and a fingerprint of every attempt and case state left.

    python bench/campaign_rounds.py --tree DIR --url URL --cases N [--profile FILE]

prints one JSON line. ``bench_dialer.py --campaign-only`` runs it for this tree and for another
checkout (``--old-tree``) alternately, on fresh databases, and compares. The fingerprint leaves
out what says only when or by whom a row was written (ids, lease owner and expiry, updated_at):
two runs that placed the same calls at the same moments with the same outcomes and left every
case in the same state have the same fingerprint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 2, 10, 30)  # Monday 18:30 in Asia/Shanghai
TOWNSHIPS = 21
LINES = 200


def fingerprint(session: Any, survey_id: int) -> str:
    """A hash of a survey's attempts (by case, in order) and its cases' states; cases are named by
    their rank in the survey, so two surveys of one database compare."""
    from sqlalchemy import select

    from survey.models import CallAttempt, Case

    a, c = CallAttempt, Case
    rank = {case_id: i for i, case_id in enumerate(session.scalars(
        select(c.id).where(c.survey_id == survey_id).order_by(c.id)))}
    digest = hashlib.sha256()
    for case_id, *row in session.execute(select(a.case_id, a.started_at, a.ended_at, a.answered_at, a.status,
                                                a.outcome, a.temp_disposition, a.trunk, a.caller_id, a.hangup_cause)
                                         .where(a.survey_id == survey_id).order_by(a.case_id, a.started_at, a.id)):
        digest.update(repr((rank[case_id], *row)).encode())
    for case_id, *row in session.execute(select(c.id, c.status, c.attempts, c.next_attempt_at, c.callback_at,
                                                c.contacted, c.last_temp_disposition, c.final_disposition, c.final_at)
                                         .where(c.survey_id == survey_id).order_by(c.id)):
        digest.update(repr((rank[case_id], *row)).encode())
    return digest.hexdigest()[:16]


def run(url: str, cases: int, profile: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """Import ``cases`` numbers in 21 townships and dial them on a virtual clock until every case
    is final (quotas too high to stop it), with the scripted channel of the dialer tests."""
    from dialer_fakes import VAULT, ScriptedChannel, make_survey, random_outcomes
    from sqlalchemy import event, func, select

    from dialer.frames import Frame, FrameRow
    from dialer.sample import import_sample
    from dialer.worker import WorkerOptions, run_worker
    from survey.clock import VirtualClock
    from survey.db import make_engine, session_factory, session_scope, upgrade
    from survey.models import Case
    from survey.vocabulary import CaseStatus

    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = VirtualClock(START)
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=[cases] * TOWNSHIPS,
                             settings={"pacing": {"trunks": [{"name": "main", "lines": LINES, "cps": 20}]}})
        codes, survey_id = [st.code for st in survey.strata], survey.id
        rows = tuple(FrameRow(i + 2, {"number": f"+86139{i:08d}", "township": codes[i % TOWNSHIPS]})
                     for i in range(cases))
        import_sample(s, survey, Frame("utf-8-sig", {"number": "number", "township": "township"}, (), rows),
                      VAULT, clock.now())
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_a: statements.__setitem__(0, statements[0] + 1))
    channel = ScriptedChannel(clock, default=random_outcomes(11))
    worker_options = WorkerOptions(survey="S1", owner="bench", **options)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU: wall time on a loaded machine is mostly waiting
        report = profiler.runcall(run_worker, sessions, channel, clock, VAULT, worker_options)
        profiler.dump_stats(str(profile))
    else:
        report = run_worker(sessions, channel, clock, VAULT, worker_options)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    with session_scope(sessions) as s:
        open_cases = s.scalar(select(func.count()).select_from(Case).where(Case.status != CaseStatus.FINAL))
        print_ = fingerprint(s, survey_id)
    engine.dispose()
    return {"placed": report.placed, "wall_s": wall, "cpu_s": cpu, "statements": statements[0],
            "open": open_cases, "stop": report.stop_reason, "fingerprint": print_,
            "days": (report.ended - report.started).total_seconds() / 86400}


def one(tree: Path, url: str, cases: int, options: str = "{}") -> dict[str, Any]:
    """A campaign of ``tree``'s dialer in a process of its own."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--tree", str(tree), "--url", url,
                          "--cases", str(cases), "--options", options], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.splitlines()[-1]))


def alternate(databases: Callable[[], AbstractContextManager[str]], name: str, cases: int, old_tree: Path | None,
              rounds: int) -> None:
    """``rounds`` campaigns of this tree (and of ``old_tree``, alternately), each on a fresh
    database from ``databases``: wall and CPU seconds, calls per second, statements per call."""
    trees = [("new", Path(__file__).resolve().parents[1])] + ([("old", old_tree)] if old_tree else [])
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in trees}
    for r in range(rounds):
        for label, tree in trees if r % 2 == 0 else trees[::-1]:
            with databases() as url:
                got = one(tree, url, cases)
            runs[label].append(got)
            print(f"  {name} {label}: {got['placed']:,} calls, {got['wall_s']:.1f} s wall ({got['placed'] / got['wall_s']:.0f} "
                  f"calls/s), {got['cpu_s']:.1f} s CPU ({got['cpu_s'] / got['placed'] * 1000:.3f} ms a call), "
                  f"{got['statements'] / got['placed']:.2f} statements a call; {got['open']} open; "
                  f"fingerprint {got['fingerprint']}; load {os.getloadavg()[0]:.1f}", flush=True)
    for label, all_runs in runs.items():
        wall, cpu = statistics.median(g["wall_s"] for g in all_runs), statistics.median(g["cpu_s"] for g in all_runs)
        placed = all_runs[0]["placed"]
        print(f"{name} {label}: {cases:,} cases, {placed:,} calls: median {wall:.1f} s wall ({placed / wall:.0f} calls/s), "
              f"{cpu:.1f} s CPU ({cpu / placed * 1000:.3f} ms a call), "
              f"{statistics.median(g['statements'] for g in all_runs) / placed:.2f} statements a call")
    prints = {g["fingerprint"] for all_runs in runs.values() for g in all_runs}
    print(f"{name}: {'same fingerprint' if len(prints) == 1 else 'DIFFERENT fingerprints'} ({', '.join(sorted(prints))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, required=True, help="the checkout whose dialer runs")
    parser.add_argument("--url", required=True)
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--profile", type=Path, help="write cProfile statistics of the dialling here")
    parser.add_argument("--options", default="{}", help="JSON: WorkerOptions fields (e.g. lease_due_ahead in seconds)")
    args = parser.parse_args()
    sys.path[:0] = [str(args.tree), str(args.tree / "tests" / "dialer")]
    options = json.loads(args.options)
    if "lease_due_ahead" in options:
        from datetime import timedelta

        options["lease_due_ahead"] = timedelta(seconds=options["lease_due_ahead"])
    print(json.dumps(run(args.url, args.cases, args.profile, options)))


if __name__ == "__main__":
    main()
