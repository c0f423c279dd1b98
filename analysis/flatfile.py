"""Reading RESPONSES.csv and POP.csv (design.md "Flat-file analysis") with errors that name the
file, line and column. The checks themselves live in :mod:`analysis.responses` and
:mod:`analysis.population` so that in-memory frames get the same ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from analysis.errors import InputError
from analysis.population import Population
from analysis.responses import ResponseColumns, Responses

FIRST_DATA_LINE = 2  # line 1 is the header


def read_csv_strings(path: Path) -> pd.DataFrame:
    """Every cell as a stripped string ('' when blank); header names stripped too."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"not a UTF-8 CSV file ({exc})", file=str(path)) from exc
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


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"header field {position} is blank", file=str(path), line=1)
        if name in seen:
            raise InputError("column appears twice in the header", file=str(path), line=1, column=name)
        seen.add(name)


def read_responses(path: Path, columns: ResponseColumns) -> Responses:
    frame = read_csv_strings(path)
    return Responses.from_frame(frame, columns, source=path.name, first_line=FIRST_DATA_LINE)


def read_population(path: Path, stratum: str, by: tuple[str, ...] | None) -> Population:
    frame = read_csv_strings(path)
    return Population.from_frame(frame, stratum, by, source=path.name, first_line=FIRST_DATA_LINE)
