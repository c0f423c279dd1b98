"""Sample frames: encodings, column names, row-level errors, duplicates, do-not-call, replicates."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from dialer_fakes import VAULT, make_survey
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer import sample
from dialer.dnc import add_to_dnc
from dialer.frames import FrameError, read_frame
from dialer.sample import RowProblem, import_sample
from survey.clock import VirtualClock
from survey.models import Case, Contact, Survey
from survey.phones import PhoneProblem
from survey.vocabulary import CaseStatus


def _csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "frame.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _survey(session: Session, clock: VirtualClock) -> Survey:
    return make_survey(session, clock, quotas=(5, 5))


def _cases(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_utf8_frame_with_chinese_headers(session: Session, clock: VirtualClock, tmp_path: Path) -> None:
    survey = _survey(session, clock)
    path = _csv(tmp_path, "\ufeff电话,乡镇,类型,语言,村\n"
                          "138 0013 8000,T01,手机,zh,东村\n"
                          "+86 010 6552 9988,镇2,固话,,\n"
                          "13800138000,T01,手机,,西村\n")
    frame = read_frame(path)
    assert frame.encoding == "utf-8-sig"
    assert frame.columns == {"number": "电话", "township": "乡镇", "frame": "类型", "language": "语言"}
    report = import_sample(session, survey, frame, VAULT, clock.now())
    assert (report.imported, report.duplicates_in_file, report.errors) == (2, 1, [])
    cases = session.scalars(select(Case).order_by(Case.id)).all()
    assert [c.frame for c in cases] == [{"frame": "mobile", "村": "东村"}, {"frame": "landline"}]
    assert [c.language for c in cases] == ["zh", None]
    assert {c.contact.number_masked for c in cases} == {"+86138****8000", "+86106***9988"}
    assert VAULT.decrypt(cases[0].contact.number_enc) == "+8613800138000"
    assert all(c.status == CaseStatus.NEW and c.next_attempt_at == clock.now() for c in cases)


def test_gb18030_frame_is_read_and_named(session: Session, clock: VirtualClock, tmp_path: Path) -> None:
    survey = _survey(session, clock)
    path = _csv(tmp_path, "号码,乡镇\n13800138000,镇1\n", encoding="gb18030")
    frame = read_frame(path)
    assert frame.encoding == "gb18030"
    assert import_sample(session, survey, frame, VAULT, clock.now()).imported == 1


def test_xlsx_frame_with_numeric_cells(session: Session, clock: VirtualClock, tmp_path: Path) -> None:
    survey = _survey(session, clock)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "township"])
    sheet.append([13800138000, "T02"])
    sheet.append([None, None])
    sheet.append(["13900139000", "Town 1"])
    path = tmp_path / "frame.xlsx"
    book.save(path)
    frame = read_frame(path)
    assert frame.encoding == "xlsx"
    assert [r.line for r in frame.rows] == [2, 4]
    report = import_sample(session, survey, frame, VAULT, clock.now())
    assert report.by_township == {"T02": 1, "T01": 1}


def test_bad_rows_are_all_reported_and_nothing_is_imported(session: Session, clock: VirtualClock,
                                                            tmp_path: Path) -> None:
    survey = _survey(session, clock)
    path = _csv(tmp_path, "number,township,frame,language\n"
                          "13800138000,T01,mobile,zh\n"
                          "1380013,T01,,\n"
                          "13800138001,T09,,\n"
                          "13800138002,,,\n"
                          "13800138003,T02,satellite,fr\n")
    report = import_sample(session, survey, read_frame(path), VAULT, clock.now())
    assert [(e.line, e.column) for e in report.errors] == [
        (3, "number"), (4, "township"), (5, "township"), (6, "frame"), (6, "language")]
    assert "not a valid number" in report.errors[0].reason
    assert report.errors[1].reason.startswith("unknown township (survey S1 has T01, T02")
    assert report.errors[2].reason == "township is empty"
    assert report.imported == 0 and _cases(session) == 0
    assert report.rejected == 4  # rows, not problems: line 6 has two
    assert report.rejected_by_problem() == {PhoneProblem.INVALID: 1, RowProblem.TOWNSHIP: 2, RowProblem.FRAME: 1,
                                            RowProblem.LANGUAGE: 1}
    assert [row.line for row, _ in report.reasons()] == [3, 4, 5, 6]
    assert report.reasons()[3][1] == ("frame: frame must be mobile or landline (手机 / 固话); "
                                      "language: the survey speaks zh, en")
    assert session.scalar(select(func.count()).select_from(Contact)) == 0
    skipped = import_sample(session, survey, read_frame(path), VAULT, clock.now(), skip_invalid=True)
    assert skipped.imported == 1 and len(skipped.errors) == 5


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"\n\n", "the file is empty"),
    (b"number,township\n", "a header but no data rows"),
    (b"name,township\nZhang,T01\n", "no phone-number column (expected one of: number"),
    (b"number,number\n1,2\n", "column(s) named twice: number"),
    (b"number,township\n\xff\xfe\x80\x80,T01\n", "neither UTF-8 nor GB18030"),
])
def test_unreadable_frames_fail_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "frame.csv"
    path.write_bytes(content)
    with pytest.raises(FrameError, match=re.escape(message)):
        read_frame(path)


def test_other_file_kinds_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="expected a .csv or .xlsx file"):
        read_frame(_csv(tmp_path, "x", name="frame.json"))
    with pytest.raises(FrameError, match="not a readable XLSX workbook"):
        read_frame(_csv(tmp_path, "number\n1\n", name="frame.xlsx"))
    with pytest.raises(FrameError, match="no such file"):
        read_frame(tmp_path / "missing.csv")


def test_duplicates_dnc_and_numbers_already_in_the_survey_are_dropped(session: Session, clock: VirtualClock,
                                                                       tmp_path: Path) -> None:
    survey = _survey(session, clock)
    add_to_dnc(session, VAULT.hash("+8613800138009"), "staff", None, now=clock.now())
    first = _csv(tmp_path, "number,township\n13800138000,T01\n", name="a.csv")
    import_sample(session, survey, read_frame(first), VAULT, clock.now())
    second = _csv(tmp_path, "number,township\n13800138000,T02\n13800138009,T01\n+8613800138001,T01\n"
                            "13800138001,T02\n", name="b.csv")
    report = import_sample(session, survey, read_frame(second), VAULT, clock.now())
    assert (report.imported, report.already_in_survey, report.do_not_call, report.duplicates_in_file) == (1, 1, 1, 1)
    other = make_survey(session, clock, code="S2", quotas=(5,))
    assert import_sample(session, other, read_frame(first), VAULT, clock.now()).imported == 1
    assert session.scalar(select(func.count()).select_from(Contact)) == 2  # one contact per number


def test_replicates_release_the_first_and_hold_the_rest(session: Session, clock: VirtualClock,
                                                        tmp_path: Path) -> None:
    survey = make_survey(session, clock, quotas=(5,))
    rows = "".join(f"1380013{i:04d},T01\n" for i in range(25))
    path = _csv(tmp_path, "number,township\n" + rows)
    report = import_sample(session, survey, read_frame(path), VAULT, clock.now(), replicate_size=10, seed=4)
    assert (report.released["T01"], report.replicates["T01"]) == (10, 3)
    by_replicate = dict(session.execute(select(Case.replicate, func.count()).group_by(Case.replicate)).all())
    assert by_replicate == {1: 10, 2: 10, 3: 5}
    held = session.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.HELD))
    assert held == 15
    more = _csv(tmp_path, "number,township\n13900139000,T01\n", name="more.csv")
    later = import_sample(session, survey, read_frame(more), VAULT, clock.now(), replicate_size=10)
    assert later.released["T01"] == 0
    assert session.scalars(select(Case.replicate).order_by(Case.id.desc()).limit(1)).one() == 4


def test_two_imports_at_once_of_the_same_numbers_share_one_contact_per_number(
        sessions: sessionmaker[Session], clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both imports look the numbers up before either stores them (a barrier makes sure), so both
    try to insert them: the second takes the first's rows instead of failing on the unique hash."""
    with sessions.begin() as s:
        for code in ("S1", "S2"):
            make_survey(s, clock, code=code)
    frame = read_frame(_csv(tmp_path, "号码,乡镇\n" + "".join(f"1380013{i:04d},T01\n" for i in range(50))))
    both_looked = threading.Barrier(2, timeout=10)
    first_look = threading.local()
    look_up = sample._contact_ids

    def looked_up_together(session: Session, hashes: list[str]) -> dict[str, int]:
        found = look_up(session, hashes)
        if not getattr(first_look, "done", False):
            first_look.done = True
            both_looked.wait()
        return found

    monkeypatch.setattr(sample, "_contact_ids", looked_up_together)
    reports: dict[str, int] = {}

    def import_into(code: str) -> None:
        with sessions.begin() as s:
            survey = s.scalars(select(Survey).where(Survey.code == code)).one()
            reports[code] = import_sample(s, survey, frame, VAULT, clock.now()).imported

    threads = [threading.Thread(target=import_into, args=(code,)) for code in ("S1", "S2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert reports == {"S1": 50, "S2": 50}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 50
        assert s.scalar(select(func.count(func.distinct(Case.contact_id)))) == 50
