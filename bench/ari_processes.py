"""``bench_ari.py --processes K``: K Stasis-app processes at once, each a level of
:func:`bench_ari.run_level`, to see what several processes hold together on one machine.

On the fake each process has a fake Asterisk of its own (in a process of its own: the fake
serves one app, as one Asterisk gives an app name one connection) and, without
``MINYI_DATABASE_URL``, a SQLite file of its own; with it, they share that database (each its
own survey). With ``ARI_URL`` set, the K processes share that real Asterisk, each serving its
own app, ``ARI_APP``-1 .. -K (``minyi-bench-1`` ...). The processes start together; each warms
up (ten calls on the fake) and then places its calls at once, so their levels overlap within a
few seconds. Printed per process: calls held (its peak), completes, key-to-next-prompt p50/p99
and the app's CPU per key; then the sum of the peaks.

    .venv/bin/python bench/bench_ari.py --processes 2 --levels 300
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
from multiprocessing.connection import Connection
from typing import Any


def _one(conn: Connection, index: int, level: int, args: argparse.Namespace, real: bool) -> None:
    """A process of the K: one level, its figures sent back."""
    from bench import bench_ari

    database_url = os.environ.get("MINYI_DATABASE_URL")
    if real:
        os.environ["ARI_APP"] = f"{os.environ.get('ARI_APP', 'minyi-bench')}-{index + 1}"
        conn.send(bench_ari.run_level_real(level, database_url, args.db_threads))
    else:
        conn.send(bench_ari.run_level(level, args.scale, args.prompt_s, database_url, args.db_threads))


def run_processes(k: int, level: int, args: argparse.Namespace, real: bool) -> list[dict[str, Any]]:
    """``level`` calls in each of ``k`` processes at once; their figures, in process order."""
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for index in range(k):
        here, there = context.Pipe()
        # not a daemon: on the fake each process starts its own fake Asterisk process
        process = context.Process(target=_one, args=(there, index, level, args, real), name=f"ari-app-{index + 1}")
        process.start()
        pipes.append(here)
        processes.append(process)
    results = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join(30)
    return results


def main(args: argparse.Namespace, real: bool) -> None:
    where = "one real Asterisk, an app each" if real else "a fake Asterisk each"
    database = "one database" if os.environ.get("MINYI_DATABASE_URL") else "a SQLite file each"
    print(f"{args.processes} processes; {where}; {database}; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'calls':>6} {'process':>7} {'held':>5} {'complete':>8} {'wall s':>7} {'keys':>6} {'CPU ms/key':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    for level in (int(x) for x in args.levels.split(",")):
        results = run_processes(args.processes, level, args, real)
        for index, r in enumerate(results, 1):
            print(f"{level:>6} {index:>7} {r['peak']:>5} {r['complete']:>8} {r['wall_s']:>7.1f} {r['keys']:>6} "
                  f"{r['cpu_ms_per_key']:>10.2f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}")
            for trap in r["traps"][:3]:
                print("  trap:", trap)
        print(f"{level:>6} {'all':>7} {sum(r['peak'] for r in results):>5} "
              f"{sum(r['complete'] for r in results):>8}   (held: the sum of each process's peak; "
              f"load average {os.getloadavg()[0]:.1f})")
