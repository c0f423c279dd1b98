"""Sample frames from hell (CSV and XLSX bytes, encodings, bad numbers and townships, broken
files) through ``dialer.frames`` / ``dialer.sample`` and ``minyi sample import``: never an
unhandled exception, a clear error or a report of every bad row, and nothing half-imported."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from dialer_fakes import VAULT, add_numbers, make_survey, number
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from reliability_support import examples
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dialer.dnc import add_to_dnc
from dialer.frames import ALIASES, Frame, FrameError, read_frame
from dialer.sample import ImportReport, import_sample
from minyi.cli import app as minyi
from survey.clock import VirtualClock
from survey.models import Case, Contact, Survey

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

FUZZ = dict(derandomize=True, database=None, deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large, HealthCheck.large_base_example])
IN_SURVEY, ON_DNC = number(0), "+8613900139000"
FIELD_LIMIT = csv.field_size_limit()

# -- what a frame holds ----------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"(\+86|0086)? ?1[3-9][0-9] ?[0-9]{4}[ -]?[0-9]{4}", fullmatch=True),
    st.from_regex(r"0[1-9][0-9]{1,2}-?[2-8][0-9]{6,7}", fullmatch=True),
    st.sampled_from([IN_SURVEY, ON_DNC, "", "N/A", "１３８００１３８０００", "13800138000.0", "1.38E+10", "+86",
                     "00000000000", "+1 202 555 0143", "13800138000;13900139000", "=HYPERLINK(\"x\")"]),
    st.integers(-(10**15), 10**15).map(str),
    st.text(max_size=25),
)
TOWNSHIPS = st.one_of(st.sampled_from(["T01", "t02", "镇1", "Town 2", " T01 ", "T99", "", "镇", "TOWN 1"]),
                      st.text(max_size=12))
HEADERS = st.lists(st.one_of(st.sampled_from([a for aliases in ALIASES.values() for a in aliases[:4]]),
                             st.sampled_from(["", "村", "Number", "备注"]), st.text(max_size=8)), max_size=6)
CELLS = st.one_of(NUMBERS, TOWNSHIPS, st.sampled_from(["手机", "固话", "mobile", "fax", "zh", "en", "fr"]))


@st.composite
def tables(draw: st.DrawFn) -> list[list[str]]:
    """A header (usually with a number column, often a township column) and rows."""
    header = draw(HEADERS)
    if draw(st.booleans()):
        header = [draw(st.sampled_from(ALIASES["number"])), draw(st.sampled_from(ALIASES["township"])), *header]
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), max_size=25))
    if rows and draw(st.integers(0, 30)) == 0:  # a field past the csv module's limit
        rows[0] = [*rows[0], "1" * (FIELD_LIMIT + draw(st.integers(1, 50)))]
    return [header, *rows]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(draw(tables()))
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1", "big5"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 4)) == 0:  # damage: bytes spliced in, or cut short
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=12)) + data[at + draw(st.integers(0, 8)):]
    return draw(st.sampled_from([".csv", ".CSV", ".txt"])), data


@st.composite
def xlsx_files(draw: st.DrawFn) -> tuple[str, bytes]:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    values = st.one_of(CELLS.filter(lambda s: s.isprintable()), st.integers(-(10**13), 10**13), st.floats(),
                       st.none(), st.booleans(), st.datetimes())
    for row in draw(st.lists(st.lists(values, max_size=6), max_size=15)):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return ".xlsx", buffer.getvalue()


@st.composite
def broken_workbooks(draw: st.DrawFn) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in draw(st.lists(st.sampled_from(["[Content_Types].xml", "xl/workbook.xml",
                                                   "xl/worksheets/sheet1.xml", "junk"]), max_size=4, unique=True)):
            z.writestr(name, draw(st.binary(max_size=60)))
    return draw(st.sampled_from([".xlsx", ".xlsm"])), draw(st.sampled_from([buffer.getvalue(), draw(st.binary())]))


FILES = st.one_of(csv_files(), csv_files(), csv_files(), broken_workbooks(),
                  st.tuples(st.sampled_from([".csv", ".xls", ""]), st.binary(max_size=200)))

# -- checks ----------------------------------------------------------------------------------------


@pytest.fixture
def survey(session: Session, clock: VirtualClock) -> Survey:
    """Townships T01 (镇1, Town 1) and T02 with a case each already, and a number on the
    do-not-call list."""
    survey = make_survey(session, clock, quotas=(5, 5))
    assert IN_SURVEY in add_numbers(session, survey, 1, clock.now())
    add_to_dnc(session, VAULT.hash(ON_DNC), "staff", None, now=clock.now())
    session.commit()
    return survey


def _read(path: Path) -> Frame | None:
    """The frame, or None after a clear error (a FrameError with a message naming the file)."""
    try:
        return read_frame(path)
    except FrameError as exc:
        assert path.name in str(exc)
        return None


def _counts(session: Session) -> tuple[int, int]:
    return (int(session.scalar(select(func.count()).select_from(Case)) or 0),
            int(session.scalar(select(func.count()).select_from(Contact)) or 0))


def _accounted(report: ImportReport) -> None:
    """Every row is imported or reported: bad, duplicate, already in the survey or do-not-call."""
    bad = len({e.line for e in report.errors})
    assert report.rows == report.imported + bad + report.duplicates_in_file + report.already_in_survey \
        + report.do_not_call
    assert all(e.reason and e.column for e in report.errors)


def _import(session: Session, survey: Survey, frame: Frame, skip_invalid: bool) -> None:
    before = _counts(session)
    savepoint = session.begin_nested()
    try:
        report = import_sample(session, survey, frame, VAULT, VirtualClock(survey.created_at).now(),
                               skip_invalid=skip_invalid)
    except FrameError as exc:  # e.g. no township column in a survey of two townships
        assert str(exc)
        assert _counts(session) == before
        return
    finally:
        after = _counts(session)
        savepoint.rollback()
    if report.errors and not skip_invalid:
        assert after == before  # nothing of a frame with a bad row
        return
    assert after[0] - before[0] == report.imported
    _accounted(report)


def _write(tmp_path: Path, file: tuple[str, bytes]) -> Path:
    suffix, data = file
    path = tmp_path / f"frame{suffix}"
    path.write_bytes(data)
    return path


@pytest.mark.slow
@settings(max_examples=examples(1500), **FUZZ)  # type: ignore[arg-type]
@given(file=FILES, skip_invalid=st.booleans())
def test_any_frame_is_read_and_imported_whole_or_refused_whole(session: Session, survey: Survey, tmp_path: Path,
                                                                file: tuple[str, bytes], skip_invalid: bool) -> None:
    frame = _read(_write(tmp_path, file))
    if frame is not None:
        _import(session, survey, frame, skip_invalid)


@settings(max_examples=examples(200), **FUZZ)  # type: ignore[arg-type]
@given(file=xlsx_files(), skip_invalid=st.booleans())
def test_any_workbook_is_read_and_imported_whole_or_refused_whole(session: Session, survey: Survey,
                                                                   tmp_path: Path, file: tuple[str, bytes],
                                                                   skip_invalid: bool) -> None:
    frame = _read(_write(tmp_path, file))
    if frame is not None:
        _import(session, survey, frame, skip_invalid)


@settings(max_examples=examples(150), **FUZZ)  # type: ignore[arg-type]
@given(file=st.one_of(FILES, xlsx_files()), skip_invalid=st.booleans())
def test_minyi_sample_import_exits_0_or_2_and_keeps_nothing_of_a_refused_frame(
        db_url: str, session: Session, survey: Survey, tmp_path: Path, file: tuple[str, bytes],
        skip_invalid: bool) -> None:
    before = _counts(session)
    session.rollback()
    args = ["sample", "import", str(_write(tmp_path, file)), "--survey", survey.code]
    result = CliRunner().invoke(minyi, args + (["--skip-invalid"] if skip_invalid else []),
                                env={"MINYI_DATABASE_URL": db_url, "MINYI_SECRET_KEY": "test-secret"})
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error:" in result.output
        assert _counts(session) == before
