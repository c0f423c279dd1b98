"""Reading RESPONSES (CSV or Parquet) and POP.csv (design.md "Flat-file analysis") with errors that
name the file, line and column. The checks themselves live in :mod:`analysis.responses` and
:mod:`analysis.population` so that in-memory frames get the same ones.

RESPONSES.csv is read by pyarrow, only the columns the run needs, typed (labels as text, answers as
numbers): a tenth of the time of the csv module. Anything pyarrow stops at or could read differently
(a ragged or blank line, text not UTF-8 (GB18030 is read there), an answer that is not a plain number, a row with every needed
cell blank) sends the file to the csv-module reader, which says where the problem is.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import InputError
from analysis.population import Population
from analysis.responses import ResponseColumns, Responses

FIRST_DATA_LINE = 2  # line 1 is the header
PARQUET_SUFFIXES = (".parquet", ".pq")
ENCODINGS = ("utf-8-sig", "gb18030")


def read_csv_strings(path: Path) -> pd.DataFrame:
    """Every cell as a stripped string ('' when blank); header names stripped too. The text is
    UTF-8 (with or without BOM) or, failing that, GB18030, which Chinese Excel writes (as sample
    frames are read: dialer/frames.py)."""
    rows = _csv_rows(path)
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError("the file is empty (no header row)", file=str(path))
    header = [cell.strip() for cell in rows[0]]
    _check_header(header, path)
    body = rows[1:]
    for offset, row in enumerate(body):
        if len(row) != len(header) and any(cell.strip() for cell in row):
            raise InputError(f"has {len(row)} fields, the header has {len(header)}",
                             file=str(path), line=offset + FIRST_DATA_LINE)
    data = [[cell.strip() for cell in row] if row else [""] * len(header) for row in body]
    frame = pd.DataFrame(data, columns=header, dtype=str)  # index = data-row number
    blank = (frame == "").all(axis=1)
    return frame.loc[~blank] if blank.any() else frame


def _csv_rows(path: Path) -> list[list[str]]:
    problem: Exception | None = None
    for encoding in ENCODINGS:
        try:
            with path.open(encoding=encoding, newline="") as handle:
                return list(csv.reader(handle))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
        except UnicodeDecodeError as exc:
            problem = exc
        except csv.Error as exc:
            raise InputError(f"not a CSV file ({exc})", file=str(path)) from exc
    raise InputError(f"neither UTF-8 nor GB18030 text ({problem})", file=str(path))


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"header field {position} is blank", file=str(path), line=1)
        if name in seen:
            raise InputError("column appears twice in the header", file=str(path), line=1, column=name)
        seen.add(name)


def read_responses(path: Path, columns: ResponseColumns) -> Responses:
    """RESPONSES from a CSV file or, by its suffix (.parquet, .pq), a Parquet file."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return Responses.from_frame(_read_parquet(path, columns), columns, source=str(path))
    frame = _read_typed_csv(path, columns)
    if frame is None:
        frame = read_csv_strings(path)
    return Responses.from_frame(frame, columns, source=str(path), first_line=FIRST_DATA_LINE)


def _read_parquet(path: Path, columns: ResponseColumns) -> pd.DataFrame:
    """The needed columns of a Parquet file; its rows are named by number (from 0) in errors."""
    try:
        from pyarrow import ArrowException, parquet
    except ImportError as exc:
        raise InputError("reading Parquet needs the pyarrow package", file=str(path)) from exc
    try:
        present = parquet.read_schema(path).names
        table = parquet.read_table(path, columns=[c for c in _needed(columns) if c in present])
    except (OSError, ArrowException) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", file=str(path)) from exc
    return _to_frame(table)


def _read_typed_csv(path: Path, columns: ResponseColumns) -> pd.DataFrame | None:
    """The needed columns through pyarrow, or None where the csv-module reader must look (see above)."""
    try:
        import pyarrow as pa
        from pyarrow import ArrowException, compute
        from pyarrow import csv as arrow_csv
    except ImportError:
        return None
    header = _header(path)
    if header is None:
        return None
    labels = [c for c in (columns.id, columns.stratum, columns.period, columns.group, *columns.by) if c]
    wanted = [c for c in _needed(columns) if c in header]
    types = {c: pa.float64() for c in columns.questions} | {c: pa.string() for c in labels}
    try:
        table = arrow_csv.read_csv(
            path, read_options=arrow_csv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=arrow_csv.ParseOptions(ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(
                column_types={c: t for c, t in types.items() if c in wanted}, include_columns=wanted,
                null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (OSError, ArrowException):
        return None
    blank = None
    for name in wanted:
        column = table[name]
        if pa.types.is_floating(column.type) and compute.any(compute.is_nan(column)).as_py():
            return None  # "nan" read as a number: the careful reader calls it an error
        empty = compute.is_null(column) if pa.types.is_floating(column.type) else compute.equal(column, "")
        blank = empty if blank is None else compute.and_(blank, empty)
    if blank is not None and compute.any(blank).as_py():
        return None
    return _to_frame(table)


def _needed(columns: ResponseColumns) -> list[str]:
    return list(dict.fromkeys(c for c in (columns.id, columns.stratum, columns.period, columns.group,
                                          *columns.by, *columns.questions) if c))


def _header(path: Path) -> list[str] | None:
    """The stripped header, checked as the csv-module reader checks it; None if it cannot be read."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not first or not any(cell.strip() for cell in first):
        return None
    header = [cell.strip() for cell in first]
    _check_header(header, path)
    return header


def _to_frame(table: Any) -> pd.DataFrame:
    """Text columns stay Arrow strings (factorised and stripped in Arrow, not per Python object)."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_arrow_strings)
    return frame


def _arrow_strings(arrow_type: Any) -> Any:
    import pyarrow as pa

    return pd.ArrowDtype(arrow_type) if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) \
        else None


def read_population(path: Path, stratum: str, by: tuple[str, ...] | None) -> Population:
    frame = read_csv_strings(path)
    return Population.from_frame(frame, stratum, by, source=str(path), first_line=FIRST_DATA_LINE)
