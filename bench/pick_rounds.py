"""Pick-and-lease rounds on PostgreSQL, this tree's code against another checkout's, alternating.

Each side is a process of its own that imports its tree's ``dialer`` (this file is run with the
tree first on ``sys.path``) and leases 100 due cases per round on a database of its own: two
copies of one loaded database, so that both sides see the same cases and, round after round,
should choose the same ids (the driver counts the rounds where they did). The database is loaded
at the revision both trees have (the old tree's head), and each side migrates its copy to its own
tree's head, then rebuilds the table's indexes (as a migration builds an index: so that both sides
read indexes built alike) and vacuums it: a side measures its tree's schema. Per round and side:
wall time, the worker's CPU time and the CPU time of its PostgreSQL backend (both from
``/proc/<pid>/schedstat``, in nanoseconds), and at the end the township progress query.

    .venv/bin/python bench/bench_dialer.py --picks-only [--no-callbacks] [--old-tree DIR] [--rounds 30] [--townships 21]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 2, 10, 30)  # bench_dialer.START: the loaded cases are due around it
WARM_UP = 3  # rounds run first and not counted: connections, caches, prepared statements


def cpu_ns(pid: int | str = "self") -> int:
    """CPU time a process (or a PostgreSQL backend) has used, in nanoseconds."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def serve(tree: str, url: str, survey_id: int, stdin: TextIO, stdout: TextIO) -> None:
    """A side: answers each ``pick R`` line with one round's figures, ``progress`` with the time of
    the township progress query, as JSON lines."""
    sys.path.insert(0, tree)
    from sqlalchemy import text

    from dialer import leases, quotas
    from survey.db import make_engine, session_factory, session_scope, upgrade

    engine = make_engine(url, pool_size=1, max_overflow=0)  # one connection: one backend to measure
    upgrade(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("REINDEX TABLE cases"))
        conn.execute(text("VACUUM ANALYZE cases"))
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        backend = int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())
        strata = quotas.progress(s, survey_id)
    for line in stdin:
        command, *args = line.split()
        if command == "pick":
            t0, cpu0, server0 = time.perf_counter(), cpu_ns(), cpu_ns(backend)
            with session_scope(sessions) as s:
                got = leases.lease_due(s, survey_id, START, 100, quotas.allocate(strata, 100, 10.0), f"bench-{args[0]}",
                                       timedelta(minutes=30))
            figures = {"ms": (time.perf_counter() - t0) * 1e3, "cpu_ms": (cpu_ns() - cpu0) / 1e6,
                       "server_ms": (cpu_ns(backend) - server0) / 1e6, "ids": [case.id for case in got]}
        else:
            t0 = time.perf_counter()
            with session_scope(sessions) as s:
                quotas.progress(s, survey_id)
            figures = {"ms": (time.perf_counter() - t0) * 1e3}
        stdout.write(json.dumps(figures) + "\n")
        stdout.flush()
    engine.dispose()


class Side:
    """A serving process and the figures of its rounds."""

    def __init__(self, name: str, tree: Path, url: str, survey_id: int) -> None:
        self.name = name
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", str(tree), url, str(survey_id)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree)
        self.rounds: list[dict[str, Any]] = []

    def ask(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)

    def summary(self) -> str:
        def spread(key: str) -> str:
            values = sorted(r[key] for r in self.rounds)
            return f"{statistics.median(values):.1f} / {values[int(0.9 * (len(values) - 1))]:.1f}"
        return (f"{self.name:4} median / p90 ms: wall {spread('ms')}, worker CPU {spread('cpu_ms')}, "
                f"PostgreSQL backend CPU {spread('server_ms')}")


@contextmanager
def copies(url: str, n: int) -> Iterator[list[str]]:
    """``url`` and ``n - 1`` copies of its database (CREATE DATABASE ... TEMPLATE)."""
    from sqlalchemy import create_engine, text

    base, name = url.rsplit("/", 1)
    made = [f"{name}_copy{i}" for i in range(1, n)]
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for copy in made:
            conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
    try:
        yield [url, *(f"{base}/{copy}" for copy in made)]
    finally:
        with admin.connect() as conn:
            for copy in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()


def alternate(url: str, survey_id: int, old_tree: Path | None, rounds: int) -> None:
    """Pick rounds of this tree (and of ``old_tree``, alternately, each first in turn), then print
    each side's figures."""
    trees = [("new", ROOT)] + ([("old", old_tree)] if old_tree is not None else [])
    with ExitStack() as stack:
        urls = stack.enter_context(copies(url, len(trees)))
        sides = [Side(name, tree, side_url, survey_id) for (name, tree), side_url in zip(trees, urls, strict=True)]
        for side in sides:
            stack.callback(side.close)
        same = 0
        for r in range(WARM_UP + rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            answers = {side.name: side.ask(f"pick {r}") for side in order}
            assert all(len(a["ids"]) == 100 for a in answers.values()), {k: len(a["ids"]) for k, a in answers.items()}
            same += len({tuple(a["ids"]) for a in answers.values()}) == 1
            if r >= WARM_UP:
                for side in sides:
                    side.rounds.append(answers[side.name])
        progress = {side.name: statistics.median(side.ask("progress")["ms"] for _ in range(5)) for side in sides}
    print(f"pick+lease 100 due of the loaded cases, {rounds} rounds alternating after {WARM_UP} warm-up rounds"
          + (f"; the same ids chosen in {same} of {WARM_UP + rounds} rounds" if old_tree is not None else ""))
    for side in sides:
        print(f"  {side.summary()}; township progress {progress[side.name]:.1f} ms")


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.stdin, sys.stdout)
