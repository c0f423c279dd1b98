"""Respondent-level input: validated, typed arrays taken from a RESPONSES frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.errors import InputError, row_error
from analysis.grouping import BoolArray
from analysis.periods import PeriodError, in_time_order
from analysis.results import COUNTY

SINGLE_PERIOD = "all"

Fail = Callable[[int, str, str], InputError]


@dataclass(frozen=True)
class ResponseColumns:
    """Which columns of RESPONSES hold what (names as in design.md's CLI options)."""

    questions: tuple[str, ...]
    by: tuple[str, ...]
    id: str = "id"
    stratum: str = "township"
    period: str = "wave"
    group: str | None = None  # the group (e.g. county) each township lies in


@dataclass(frozen=True)
class Labels:
    """A text column as sorted distinct stripped values and each row's index into them."""

    codes: NDArray[np.intp]
    uniques: NDArray[np.object_]

    @property
    def values(self) -> NDArray[np.object_]:
        out: NDArray[np.object_] = self.uniques[self.codes]
        return out


@dataclass(frozen=True)
class Responses:
    """One row per respondent. Answers are float codes, NaN when blank.

    ``labels`` are the input frame's index labels, used to locate a row in error messages.
    """

    ids: NDArray[np.object_]
    period: Labels  # its uniques in time order (analysis.periods), not sorted as text
    stratum: Labels
    by: dict[str, Labels]
    answers: dict[str, NDArray[np.float64]]
    labels: NDArray[np.object_]
    source: str = "responses"
    first_line: int | None = None
    group: Labels | None = None  # one per township, checked

    def __len__(self) -> int:
        return len(self.ids)

    def error(self, position: int, message: str, column: str | None = None) -> InputError:
        return row_error(message, source=self.source, first_line=self.first_line,
                         label=self.labels[position], column=column)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, columns: ResponseColumns, *, source: str = "responses",
                   first_line: int | None = None) -> Responses:
        needed = [columns.id, columns.stratum, *columns.by, *columns.questions]
        needed += [columns.group] if columns.group is not None else []
        missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
        if missing:
            raise InputError(f"no column(s) {', '.join(map(repr, missing))}; the columns are "
                             f"{', '.join(map(str, frame.columns))}", file=source)
        if frame.empty:
            raise InputError("has no respondents", file=source)
        labels = frame.index.to_numpy(dtype=object)

        def fail(position: int, message: str, column: str) -> InputError:
            return row_error(message, source=source, first_line=first_line, label=labels[position],
                             column=column)

        ids = _ids(frame[columns.id], columns.id, fail)
        stratum = _labels(frame[columns.stratum], columns.stratum, fail)
        if COUNTY in stratum.uniques:
            position = int(np.flatnonzero(stratum.values == COUNTY)[0])
            raise fail(position, f"{COUNTY!r} is reserved for the whole county", columns.stratum)
        if columns.period in frame.columns:
            period = _in_time_order(_labels(frame[columns.period], columns.period, fail), columns.period, fail)
        else:
            period = Labels(np.zeros(len(frame), dtype=np.intp), np.array([SINGLE_PERIOD], dtype=object))
        by = {name: _labels(frame[name], name, fail) for name in columns.by}
        answers = {name: _codes(frame[name], name, fail) for name in columns.questions}
        group = None
        if columns.group is not None:
            group = _labels(frame[columns.group], columns.group, fail)
            _one_group_each(stratum, group, columns.group, fail)
        return cls(ids, period, stratum, by, answers, labels, source, first_line, group)


def _one_group_each(stratum: Labels, group: Labels, name: str, fail: Fail) -> None:
    """Every township lies in one group: the first row that puts it in another one is an error."""
    first = np.zeros(stratum.uniques.size, dtype=np.intp)
    present, first_row = np.unique(stratum.codes, return_index=True)
    first[present] = first_row
    other = group.codes != group.codes[first[stratum.codes]]
    if other.any():
        position = int(np.flatnonzero(other)[0])
        town = stratum.values[position]
        raise fail(position, f"township {town!r} is in {name} {group.values[first[stratum.codes[position]]]!r} "
                   f"on an earlier row and in {group.values[position]!r} here", name)


def _in_time_order(period: Labels, name: str, fail: Fail) -> Labels:
    """``period`` with its uniques from the earliest period to the latest. Periods that cannot be put in
    order are an error at the first row of the one that breaks it, taking them in the file's order."""
    present, first_row = np.unique(period.codes, return_index=True)
    in_file_order = [str(period.uniques[c]) for c in present[np.argsort(first_row)]]
    try:
        ordered = in_time_order(in_file_order)
    except PeriodError as exc:
        raise fail(int(np.flatnonzero(period.values == exc.label)[0]), str(exc), name) from None
    place = {label: i for i, label in enumerate(ordered)}
    remap = np.array([place[str(u)] for u in period.uniques], dtype=np.intp)
    return Labels(remap[period.codes], np.array(ordered, dtype=object))


def _labels(column: pd.Series, name: str, fail: Fail) -> Labels:
    """Stripped text of every row; the distinct values are stripped once each."""
    codes, uniques = pd.factorize(column)
    texts = np.array([str(u).strip() for u in np.asarray(uniques, dtype=object)], dtype=object)
    blank = codes < 0
    if (texts == "").any():
        blank |= np.isin(codes, np.flatnonzero(texts == ""))
    if blank.any():
        raise fail(int(np.flatnonzero(blank)[0]), "is blank", name)
    remap, distinct = pd.factorize(texts, sort=True)
    return Labels(remap[codes].astype(np.intp), np.asarray(distinct, dtype=object))


def _ids(column: pd.Series, name: str, fail: Fail) -> NDArray[np.object_]:
    if isinstance(column.dtype, pd.ArrowDtype | pd.StringDtype):  # stripped in Arrow, not per object
        ids: NDArray[np.object_] = column.str.strip().to_numpy(dtype=object, na_value="")
    else:
        raw = column.to_numpy(dtype=object)
        ids = np.array([str(v).strip() if v == v and v is not None else "" for v in raw], dtype=object)
    bad = (ids == "") | _repeated(ids)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        message = "is blank" if ids[position] == "" else f"id {ids[position]!r} appears more than once"
        raise fail(position, message, name)
    return ids


def _repeated(values: NDArray[np.object_]) -> BoolArray:
    """True where a value appeared on an earlier row."""
    codes, uniques = pd.factorize(values)
    repeated = np.zeros(values.size, dtype=bool)
    if uniques.size < values.size:
        repeated[:] = True
        repeated[np.unique(codes, return_index=True)[1]] = False
    return repeated


def _codes(column: pd.Series, name: str, fail: Fail) -> NDArray[np.float64]:
    """Numeric answer codes; blank (no answer) becomes NaN, anything else non-numeric is an error."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        numeric: NDArray[np.float64] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return numeric
    missing = column.isna().to_numpy()
    text = column.astype(str).str.strip()
    blank = missing | (text == "").to_numpy()
    numbers: NDArray[np.float64] = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(
        dtype=np.float64)
    bad = np.isnan(numbers) & ~blank
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise fail(position, f"{text.iloc[position]!r} is not a numeric answer code", name)
    return numbers
