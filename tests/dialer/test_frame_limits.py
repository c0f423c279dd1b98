"""What a frame may cost to read: an .xlsx that would inflate to hundreds of MiB (a zip bomb) is
refused from its directory alone, in well under a second, by the reader the web jobs and the
command line share (and by the XLSForm reader); so is a frame of more rows than
:data:`dialer.frames.MAX_ROWS`."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from dialer import frames
from dialer.frames import FrameError, read_frame
from minyi.cli import app
from survey.db import make_engine, session_factory, upgrade
from survey.models import Case


def _bomb(path: Path, mib: int) -> Path:
    """A workbook-shaped zip whose sheet is ``mib`` MiB of one repeated byte (deflates ~1000 to 1)."""
    block = b" " * 2**20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(mib):
                sheet.write(block)
    return path


def _book(path: Path, rows: int) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["电话", "乡镇"])
    for i in range(rows):
        sheet.append([f"+86138{i:08d}", "T01"])
    book.save(path)
    return path


def test_a_zip_bomb_is_refused_fast_with_a_clear_message(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "frame.xlsx", 300)
    assert bomb.stat().st_size < 400 * 1024  # ~300 KiB that declares 300 MiB
    started = time.perf_counter()
    with pytest.raises(FrameError) as refused:
        read_frame(bomb)
    assert time.perf_counter() - started < 1.0
    assert "expands to 300 MiB, more than the 256 MiB allowed" in str(refused.value)


def test_a_member_deflated_far_more_than_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match=r"sheet1\.xml expands 10\d\d times \(at most 100 .*zip bomb"):
        read_frame(_bomb(tmp_path / "frame.xlsx", 20))


def test_an_ordinary_workbook_passes_and_the_row_cap_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = _book(tmp_path / "frame.xlsx", 5)
    assert len(read_frame(book).rows) == 5
    monkeypatch.setattr(frames, "MAX_ROWS", 4)
    with pytest.raises(FrameError, match="more than 4 data rows; split the frame"):
        read_frame(book)
    csv = tmp_path / "frame.csv"
    csv.write_text("电话\n" + "".join(f"1380013800{i}\n" for i in range(5)), encoding="utf-8")
    with pytest.raises(FrameError, match="more than 4 data rows"):
        read_frame(csv)


def test_the_command_line_refuses_a_bomb_and_imports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MINYI_DATABASE_URL", url)
    monkeypatch.setenv("MINYI_SECRET_KEY", "test-secret")
    engine = make_engine(url)
    upgrade(engine)
    result = CliRunner().invoke(app, ["sample", "import", str(_bomb(tmp_path / "frame.xlsx", 20)), "--survey", "S1"])
    assert result.exit_code == 2
    assert "refused as a possible zip bomb" in result.output and "Traceback" not in result.output
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    engine.dispose()


def test_the_xlsform_reader_refuses_a_bomb_too(tmp_path: Path) -> None:
    from survey.questionnaire import QuestionnaireError
    from survey.questionnaire.files import read_any

    with pytest.raises(QuestionnaireError) as refused:
        read_any(_bomb(tmp_path / "form.xlsx", 20))
    [problem] = refused.value.problems
    # a questionnaire's bound (4 MiB of XML) comes before the frames' zip-bomb ratio
    assert problem.location.endswith("form.xlsx") and "expands to 20 MiB, more than the 4 MiB allowed" in problem.message
    assert "form.xlsx" not in problem.message  # said once, as the location


def test_a_header_of_too_many_columns_is_refused_at_once(tmp_path: Path) -> None:
    """50,000 column names were checked for duplicates one against all: 34 s before anything was read."""
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["电话", *(f"c{i}" for i in range(50_000))]) + "\n13800000000\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(FrameError, match=r"wide\.csv: 50001 columns; a frame has at most 500"):
        read_frame(wide)
    assert time.perf_counter() - started < 5
    fine = tmp_path / "fine.csv"
    fine.write_text(",".join(["电话", *(f"c{i}" for i in range(frames.MAX_COLUMNS - 1))]) + "\n13800000000\n",
                    encoding="utf-8")
    assert read_frame(fine).rows[0].values["number"] == "13800000000"
