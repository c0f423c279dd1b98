"""Errors the analysis raises for bad input; the CLI turns every one into exit code 2."""

from __future__ import annotations

import numbers


class AnalysisError(Exception):
    """Bad input or an impossible weighting problem, with a message fit for the user."""


class InputError(AnalysisError):
    """A problem in an input file, located by file, line and column where known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: str | None = None) -> None:
        self.file = file
        self.line = line
        self.column = column
        where = ", ".join(part for part in (
            file,
            f"line {line}" if line is not None else None,
            f"column {column!r}" if column is not None else None,
        ) if part)
        super().__init__(f"{where}: {message}" if where else message)


class SpecError(AnalysisError):
    """An index specification that cannot be used (names the index and key)."""


class WeightingError(AnalysisError):
    """Weighting cannot meet its targets; names the period, township and margin."""

    def __init__(self, message: str, *, township: str | None = None, margin: str | None = None) -> None:
        self.township = township
        self.margin = margin
        super().__init__(message)


def row_error(message: str, *, source: str, first_line: int | None, label: object,
              column: str | None = None) -> InputError:
    """An InputError for the frame row whose index label is ``label``.

    Frames read from a file are indexed by data-row number and give ``first_line`` (the file line of
    data row 0); in-memory frames give None and the row's index label is named instead.
    """
    if first_line is None or not isinstance(label, numbers.Integral):  # numpy integers are Integral too
        return InputError(f"row {label}: {message}", file=source, column=column)
    return InputError(message, file=source, line=first_line + int(label), column=column)
