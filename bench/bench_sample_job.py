"""A 200,000-row sample frame (CSV, then XLSX) imported as a background job, as the web upload
does: the upload stored and queued, then one worker run. Prints the time of each step and the
process's peak memory (run it under ``/usr/bin/time -v`` for the whole picture).

    .venv/bin/python -m bench.bench_sample_job [ROWS] [csv|xlsx]
"""

from __future__ import annotations

import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from jobs.runner import JobContext, run_next
from jobs.sample_import import HANDLERS, SampleOptions, queue_sample_import
from survey.clock import SystemClock
from survey.db import make_engine, session_factory, upgrade
from survey.models import Case, Job
from survey.phones import PhoneVault
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey

TOWNS = ("T01", "T02", "T03")


def write_frame(path: Path, rows: int) -> None:
    header = ["电话", "乡镇", "类型", "备注"]
    data = ([f"+86138{i:08d}", TOWNS[i % 3], "手机" if i % 3 else "固话", f"备注{i % 97}"] for i in range(rows))
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for row in data:
            sheet.append(row)
        book.save(path)
        return
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(data)


def main(rows: int, fmt: str) -> None:
    with tempfile.TemporaryDirectory(prefix="minyi-bench-") as folder:
        frame = Path(folder) / f"frame.{fmt}"
        write_frame(frame, rows)
        url = f"sqlite:///{folder}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        sessions, clock, vault = session_factory(engine), SystemClock(), PhoneVault("bench")
        with sessions.begin() as s:
            survey = create_survey(s, "B", load_bundled(), clock, period="2026-12",
                                   strata=[StratumSpec(t, t, t, quota=10) for t in TOWNS])
        started = time.perf_counter()
        with sessions.begin() as s:
            job_id = queue_sample_import(s, s.merge(survey), frame.name, frame.read_bytes(), vault, clock, None,
                                         SampleOptions()).id
        queued = time.perf_counter()
        run_next(JobContext(sessions, clock, vault), HANDLERS, "bench")
        done = time.perf_counter()
        with sessions() as s:
            job = s.get(Job, job_id)
            cases = s.scalar(select(func.count()).select_from(Case))
        assert job is not None
        print(f"{fmt}: {rows:,} rows, {frame.stat().st_size / 2**20:.1f} MiB: stored and queued in "
              f"{queued - started:.2f} s; job {job.status} in {done - queued:.1f} s; "
              f"imported {job.result and job.result['imported']:,}, cases {cases:,}; "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, sys.argv[2] if len(sys.argv) > 2 else "csv")
