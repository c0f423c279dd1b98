"""``make bench``: run every benchmark of ``bench/`` one after the other and print its figures.

    .venv/bin/python -m bench [name ...]     # e.g. python -m bench engine analysis

Each benchmark is a script that prints its own figures; they run in separate processes so that
one's memory or threads never colour another's numbers.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ("engine", "twilio", "ari", "dialer", "analysis", "coverage", "bulletin", "demo")


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    cores = len([line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("processor")])
    return f"{cpu}, {cores} cores, Python {platform.python_version()}"


def main(names: list[str]) -> int:
    available = {p.stem.removeprefix("bench_"): p for p in HERE.glob("bench_*.py")}
    chosen = names or [n for n in ORDER if n in available] + sorted(set(available) - set(ORDER))
    unknown = [n for n in chosen if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have {', '.join(sorted(available))}", file=sys.stderr)
        return 2
    print(f"machine: {_machine()}")
    failed = []
    for name in chosen:
        print(f"\n== {name} ==", flush=True)
        began = time.perf_counter()
        code = subprocess.call([sys.executable, str(available[name])], cwd=HERE.parent)
        print(f"({name}: {time.perf_counter() - began:.0f} s{'' if code == 0 else f', exit {code}'})", flush=True)
        if code:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
