"""Reading an XLSForm workbook: sheets, their columns (``label::Chinese (zh)``) and cell texts.

Columns are classified per sheet: read (``type``, ``name`` ...), language texts (``label::zh``),
ignored presentation columns (``hint``, ``required`` ...) and anything else, which is a problem
as soon as it holds a value: Minyi would otherwise silently drop part of the form.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from survey.questionnaire.loader import Problem, QuestionnaireError
from survey.workbooks import WorkbookTooLarge, check_size

MAX_ROWS = 5000
MAX_XML = 4 * 1024 * 1024
"""The XML a questionnaire workbook may expand to, every member together (a form of 400 questions
is well under 1 MiB). The sample frames' bound (:data:`survey.workbooks.MAX_UNCOMPRESSED`, 256 MiB)
would let an 8 MiB upload make openpyxl build one 5,000,000-cell row: over 3.5 GB and a minute of
CPU in the request, where 4 MiB of the smallest cells costs ~2 s and ~250 MB."""
LANGUAGE_NAMES = {"chinese": "zh", "english": "en", "中文": "zh", "汉语": "zh", "普通话": "zh", "英文": "en"}
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class SheetSpec:
    read: frozenset[str]
    texts: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Column:
    index: int
    base: str
    language: str | None


@dataclass(frozen=True, eq=False)
class Row:
    sheet: Sheet
    number: int
    cells: dict[Column, str]

    def get(self, base: str) -> str:
        return next((v for c, v in self.cells.items() if c.base == base and c.language is None), "")

    def texts(self, base: str) -> dict[str, str]:
        return {c.language: v for c, v in self.cells.items() if c.base == base and c.language}

    def ref(self, base: str | None = None, language: str | None = None) -> str:
        """The cell of ``base`` (in ``language``) in this row; column A without a base."""
        column = self.sheet.column(base, language) if base else None
        return self.sheet.ref(column.index if column else 0, self.number)


@dataclass
class Sheet:
    name: str  # the workbook's file name, for locations
    title: str
    columns: list[Column] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def column(self, base: str, language: str | None = None) -> Column | None:
        matches = [c for c in self.columns if c.base == base and (language is None or c.language == language)]
        return matches[0] if matches else None

    def ref(self, index: int, row: int) -> str:
        return f"{self.name}:{self.title}!{get_column_letter(index + 1)}{row}"

    def languages(self, base: str) -> list[str]:
        return list(dict.fromkeys(c.language for c in self.columns if c.base == base and c.language))


@dataclass(frozen=True)
class RawSheet:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


def read_workbook(path: Path) -> dict[str, RawSheet]:
    """Every worksheet by lower-case title, blank rows dropped and cells as text."""
    try:
        check_size(path, MAX_XML)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = load_workbook(path, read_only=True, data_only=True)
            try:  # read-only sheets are parsed while iterating, so damage can show up here too
                return {ws.title.strip().lower(): _raw(ws, str(path)) for ws in book.worksheets}
            finally:
                book.close()
    except QuestionnaireError:
        raise
    except WorkbookTooLarge as exc:
        raise QuestionnaireError([Problem(str(path), str(exc).removeprefix(f"{path}: "))]) from None
    except OSError as exc:
        raise QuestionnaireError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    except Exception as exc:  # openpyxl raises zipfile, XML and KeyError failures for damaged files
        raise QuestionnaireError([Problem(str(path), f"not an Excel .xlsx workbook ({type(exc).__name__}: "
                                                     f"{str(exc)[:100]})")]) from None


def _raw(ws: Any, name: str) -> RawSheet:
    rows: list[tuple[int, tuple[str, ...]]] = []
    header: tuple[str, ...] = ()
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        texts = tuple(cell_text(v) for v in values)
        if number == 1:
            header = texts
        elif any(texts):
            rows.append((number, texts))
        if len(rows) > MAX_ROWS:
            raise QuestionnaireError([Problem(f"{name}:{ws.title}", f"more than {MAX_ROWS} rows: not a questionnaire")])
    return RawSheet(ws.title, header, tuple(rows))


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ``.0``, dates in ISO form, text stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def language_code(label: str) -> str | None:
    """``zh`` for ``Chinese (zh)``, ``zh``, ``Chinese`` or ``中文``; None if not zh or en."""
    match = re.fullmatch(r".*\(\s*([A-Za-z]+)(?:[-_][A-Za-z0-9]+)*\s*\)\s*", label)
    code = match.group(1).lower() if match else LANGUAGE_NAMES.get(label.strip().lower(), label.strip().lower())
    return code if code in LANGUAGES else None


def classify(raw: RawSheet, spec: SheetSpec, name: str, default_language: str | None,
             problems: list[Problem]) -> Sheet:
    """The sheet with its columns understood; a problem for each column that cannot be."""
    sheet = Sheet(name, raw.title)
    seen: set[tuple[str, str | None]] = set()
    for index, header in enumerate(raw.header):
        filled = [number for number, texts in raw.rows if index < len(texts) and texts[index]]
        column, message = _column(index, header, spec, default_language, bool(filled))
        if message:
            problems.append(Problem(sheet.ref(index, filled[0] if filled and not header else 1), message))
        if column is None:
            continue
        if (column.base, column.language) in seen:
            problems.append(Problem(sheet.ref(index, 1), f"column {header!r} appears twice"))
            continue
        seen.add((column.base, column.language))
        sheet.columns.append(column)
    for number, texts in raw.rows:
        cells = {c: texts[c.index] for c in sheet.columns if c.index < len(texts) and texts[c.index]}
        if cells:
            sheet.rows.append(Row(sheet, number, cells))
    return sheet


def _column(index: int, header: str, spec: SheetSpec, default_language: str | None,
            filled: bool) -> tuple[Column | None, str | None]:
    base, _, suffix = header.partition("::")
    base = "_".join(base.lower().split())
    if not base:
        return None, "a value in a column without a header" if filled else None
    if base in spec.ignored:
        return None, None
    if base in spec.texts:
        language = language_code(suffix) if suffix else default_language
        if language is None:
            return None, (f"column {header!r}: language {suffix!r} is not zh or en" if suffix else
                          f"column {header!r} needs a language: {base}::Chinese (zh) or {base}::English (en), "
                          "or default_language in the settings sheet")
        return Column(index, base, language), None
    if base in spec.read:
        if suffix:
            return None, f"column {header!r}: {base} takes no language"
        return Column(index, base, None), None
    if filled:
        known = ", ".join(sorted(spec.read | spec.texts))
        return None, f"column {header!r} is not supported (Minyi reads {known}); clear it or delete the column"
    return None, None


def integer(text: str) -> int | str:
    """A whole number from a cell, or the text itself for the schema to reject with its location."""
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def number(text: str) -> int | float | str:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return float(text) if re.fullmatch(r"-?\d+\.\d*", text) else text


def boolean(text: str) -> bool | str:
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "y"):
        return True
    return False if lowered in ("false", "no", "0", "n") else text
