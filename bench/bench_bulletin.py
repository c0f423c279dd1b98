"""Time the PDF bulletin for a county of 157 areas (target: under 3 s per language).

Run: .venv/bin/python bench/bench_bulletin.py [--areas N] [--repeat R]
"""

from __future__ import annotations

import argparse
import io
import time

from pypdf import PdfReader

from reports.bulletin import render_bulletin
from reports.sample import sample_bulletin_data

TARGET_SECONDS = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--areas", type=int, default=157)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    worst = 0.0
    for lang in ("zh", "en"):
        times = []
        for _ in range(args.repeat):
            data = sample_bulletin_data(townships=args.areas)  # fresh, so nothing derived is cached
            buffer = io.BytesIO()
            start = time.perf_counter()
            render_bulletin(data, buffer, lang)
            times.append(time.perf_counter() - start)
        pages = len(PdfReader(io.BytesIO(buffer.getvalue())).pages)
        print(
            f"bulletin {lang}: {args.areas} areas, {len(data.indices)} indices, {pages} pages, "
            f"{len(buffer.getvalue()) / 1024:.0f} KiB; first {times[0]:.2f} s, best {min(times):.2f} s, "
            f"worst {max(times):.2f} s"
        )
        worst = max(worst, *times)
    print(f"slowest render {worst:.2f} s (target < {TARGET_SECONDS:.0f} s)")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
