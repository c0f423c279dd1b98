"""Reading sample frames from CSV or XLSX into rows of text, with the columns recognised.

CSV text is tried as UTF-8 (with or without BOM) and then as GB18030 (the superset of GBK/GB2312
that Chinese Excel writes), and the frame says which one worked. Column names are matched in
English or Chinese, case-insensitively; unrecognised columns are kept as extra fields, except
:data:`REASON_COLUMN`, which :func:`write_rejects` adds to the rows it writes back for fixing.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from survey import workbooks
from survey.errors import Refused
from survey.workbooks import WorkbookTooLarge

ENCODINGS = ("utf-8-sig", "gb18030")

ALIASES: dict[str, tuple[str, ...]] = {
    "number": ("number", "phone", "phone_number", "tel", "telephone", "号码", "电话", "电话号码", "手机", "手机号",
               "手机号码"),
    "township": ("township", "stratum", "town", "乡镇", "街道", "乡镇街道", "镇街"),
    "frame": ("frame", "line_type", "号码类型", "类型"),
    "language": ("language", "lang", "语言"),
}


REASON_COLUMN = "reason"

# Bounds on what a frame may cost to read: an .xlsx's declared sizes (survey/workbooks.py), its rows.
MAX_ROWS = 500_000  # data rows of one frame (a 200,000-row import peaks near 0.5 GB); more: split it
MAX_COLUMNS = 500  # columns of one frame: a frame has a handful, each kept on its cases (checking a header
# of 50,000 names for duplicates one by one took 34 s)
PROGRESS_EVERY = 10_000  # rows between two calls of a reader's ``on_rows``

RowsRead = Callable[[int], None]


class FrameError(Refused):
    """A frame that cannot be read at all (as opposed to a bad row)."""


@dataclass(frozen=True, slots=True)
class FrameRow:
    line: int  # line in the CSV file / row in the sheet, header = 1
    values: dict[str, str]  # role ("number", "township", ...) or extra column name -> text
    cells: tuple[str, ...] = ()  # the row as read, for writing it back (write_rejects)


@dataclass(frozen=True)
class Frame:
    encoding: str  # "utf-8-sig", "gb18030" or "xlsx"
    columns: dict[str, str]  # role -> header as written in the file
    extra: tuple[str, ...]  # other columns, kept on the case
    rows: tuple[FrameRow, ...]
    header: tuple[str, ...] = ()  # the header row as read


def read_frame(path: Path, on_rows: RowsRead | None = None) -> Frame:
    """The frame in ``path``; ``on_rows(n)`` is told every :data:`PROGRESS_EVERY` rows read."""
    if not path.is_file():
        raise FrameError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        check_xlsx_size(path)
        encoding, lines = "xlsx", _xlsx_lines(path)
    elif suffix in (".csv", ".txt"):
        encoding, text = _decode(path.read_bytes(), path)
        lines = _csv_lines(text, path)
    else:
        raise FrameError(f"{path}: expected a .csv or .xlsx file")
    return _frame(path, encoding, lines, on_rows)


def check_xlsx_size(path: Path) -> None:
    """Refuse a workbook that would inflate to too much XML, or a zip bomb, before anything is
    inflated (:func:`survey.workbooks.check_size`)."""
    try:
        workbooks.check_size(path)
    except WorkbookTooLarge as exc:
        raise FrameError(exc.message, **exc.values) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise FrameError(f"{path}: not a readable XLSX workbook ({exc})") from None


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    if not raw.strip():
        raise FrameError(f"{path}: the file is empty")
    for encoding in ENCODINGS:
        try:
            return encoding, raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FrameError(f"{path}: the text is neither UTF-8 nor GB18030; save it as UTF-8 CSV")


def _csv_lines(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit
        raise FrameError(f"{path}: line {reader.line_num + 1}: not readable as CSV ({exc})") from None


def _xlsx_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged file: zipfile, lxml and openpyxl each raise their own errors
        raise FrameError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = book.worksheets[0]
        for index, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield index, [_cell(v) for v in row]
    except Exception as exc:  # a damaged sheet shows only when it is read
        raise FrameError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    finally:
        book.close()


def _cell(value: Any) -> str:
    """Excel stores long digit strings as numbers: 13812345678.0 must read as "13812345678"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _frame(path: Path, encoding: str, lines: Iterable[tuple[int, list[str]]], on_rows: RowsRead | None) -> Frame:
    it = ((n, [c.strip() for c in row]) for n, row in lines)
    header = next(((n, row) for n, row in it if any(row)), None)
    if header is None:
        raise FrameError(f"{path}: the file is empty")
    names = header[1]
    columns, extra = _roles(path, names)
    rows: list[FrameRow] = []
    for line, cells in it:
        if not any(cells):
            continue
        if len(rows) == MAX_ROWS:
            raise FrameError("%(file)s: more than %(limit)d data rows; split the frame", file=str(path),
                             limit=MAX_ROWS)
        values = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(names) if name}
        mapped = {role: values.get(col, "") for role, col in columns.items()}
        mapped.update({col: values.get(col, "") for col in extra})
        rows.append(FrameRow(line, mapped, tuple(cells)))
        if on_rows is not None and len(rows) % PROGRESS_EVERY == 0:
            on_rows(len(rows))
    if not rows:
        raise FrameError(f"{path}: a header but no data rows")
    return Frame(encoding, columns, extra, tuple(rows), tuple(names))


def _roles(path: Path, names: list[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    if len(names) > MAX_COLUMNS:
        raise FrameError("%(file)s: %(n)d columns; a frame has at most %(limit)d", file=str(path), n=len(names),
                         limit=MAX_COLUMNS)
    duplicated = sorted(n for n, count in Counter(names).items() if n and count > 1)
    if duplicated:
        raise FrameError(f"{path}: column(s) named twice: {', '.join(duplicated)}")
    columns: dict[str, str] = {}
    for name in names:
        role = next((r for r, aliases in ALIASES.items() if name.lower() in aliases), None)
        if role is not None and role not in columns:
            columns[role] = name
    if "number" not in columns:
        raise FrameError(f"{path}: no phone-number column (expected one of: {', '.join(ALIASES['number'])}; "
                         f"found: {', '.join(n for n in names if n) or 'none'})")
    extra = tuple(n for n in names if n and n not in columns.values() and n != REASON_COLUMN)
    return columns, extra


def read_with_rejects(path: Path, rejects: Path | None, what: str) -> tuple[Frame, Path]:
    """The frame at ``path`` and where its rejected rows are to go: ``rejects``, by default
    ``NAME.rejected.csv`` beside it, never the file itself (``what`` names it in the refusal)."""
    rejects = rejects or path.with_name(f"{path.stem}.rejected.csv")
    if rejects.resolve() == path.resolve():
        raise FrameError(f"--rejects must not be the {what} itself")
    return read_frame(path), rejects


def write_rejects(path: Path, frame: Frame, rejects: Iterable[tuple[FrameRow, str]]) -> None:
    """The rejected rows as a UTF-8 CSV (with BOM, which Excel needs to read it as UTF-8): the
    frame's columns plus :data:`REASON_COLUMN`, to be fixed and imported again."""
    header = [n for n in frame.header if n != REASON_COLUMN]
    keep = [i for i, n in enumerate(frame.header) if n != REASON_COLUMN]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*header, REASON_COLUMN])
        for row, reason in rejects:
            writer.writerow([row.cells[i] if i < len(row.cells) else "" for i in keep] + [reason])
