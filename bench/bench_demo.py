"""Benchmark: the wall time of ``minyi demo`` (the main job), and of its parts.

    .venv/bin/python bench/bench_demo.py [--townships 21] [--quota 100] [--repeat 1]

Runs the demo in-process (as ``minyi demo --quiet`` does, minus the printing) in a temporary
folder and prints the total and each round's calls and dialling time (the two rounds are dialled
at the same time, in two processes), and the command's own wall time in a fresh process. The demo is
CPU-bound Python, so the first line gives this machine's speed at plain Python (the best time
of ``sum(range(100))``): figures from two machines compare only with it beside them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from minyi.demo import DemoOptions, run_demo
from survey.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--townships", type=int, default=21)
    parser.add_argument("--quota", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"python speed: sum(range(100)) takes {python_speed_us():.2f} us here (best of 5)")
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            result = run_demo(DemoOptions(out=Path(tmp), townships=args.townships, quota=args.quota),
                              load_settings({}))
            total = time.perf_counter() - began
        rounds = ", ".join(f"{r.period} {r.worker.placed} calls in {r.worker.elapsed_s:.1f} s" for r in result.rounds)
        completes = sum(int(x.counts["I"]) for x in result.rates if x.stratum == "ALL")
        print(f"demo run {run + 1}: {total:.1f} s in-process ({args.townships} townships, quota {args.quota}); "
              f"rounds dialled side by side: {rounds}; {completes} completes in the current round")
    with tempfile.TemporaryDirectory() as tmp:
        minyi = Path(sys.executable).with_name("minyi")
        began = time.perf_counter()
        subprocess.run([str(minyi), "demo", "--quiet", "--out", tmp, "--townships", str(args.townships),
                        "--quota", str(args.quota)], check=True, stdout=subprocess.DEVNULL)
        print(f"`minyi demo --quiet` wall time: {time.perf_counter() - began:.1f} s")


def python_speed_us() -> float:
    """Microseconds per ``sum(range(100))``, the best of five rounds (``python -m timeit``'s figure)."""
    loops = 200_000
    return min(timeit.repeat("sum(range(100))", number=loops, repeat=5)) / loops * 1e6


if __name__ == "__main__":
    main()
