"""What the job tests share: a survey of three townships, a frame of N good numbers, a worker context."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from jobs.runner import JobContext
from survey.clock import Clock
from survey.models import Survey
from survey.phones import PhoneVault
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey

VAULT = PhoneVault("test-secret")
TOWNS = ("T01", "T02", "T03")


def make_survey(session: Session, clock: Clock) -> Survey:
    strata = [StratumSpec(code, f"镇{i}", f"Town {i}", quota=10) for i, code in enumerate(TOWNS, start=1)]
    return create_survey(session, "S1", load_bundled(), clock, period="2026-11", strata=strata)


def rows(n: int) -> list[list[str]]:
    return [[f"+86138{i:08d}", TOWNS[i % 3], "手机"] for i in range(n)]


def write_frame(path: Path, n: int) -> Path:
    """``n`` good mobile numbers, as CSV or XLSX by the suffix."""
    header = ["电话", "乡镇", "类型"]
    if path.suffix == ".xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for row in rows(n):
            sheet.append(row)
        book.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows(n))
    return path


def context(sessions: sessionmaker[Session], clock: Clock) -> JobContext:
    return JobContext(sessions, clock, VAULT)
