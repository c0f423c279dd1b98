"""Population counts (POP): joint cells or margins per township, checked and reconciled.

Cells: one column per stratum and weighting variable plus ``N``. Margins: ``township,margin,level,N``
with an optional ``margin=total`` row per township. Each weighting variable's levels are put in
their declared order by :func:`level_order` (numbers in a label compared as numbers), which is the
order "adjacent" refers to when thin cells are merged; the order of the rows in the file plays no
part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from analysis.errors import InputError, row_error
from analysis.results import COUNTY

TOTAL = "total"
MARGIN_COLUMNS = ("margin", "level", "N")
REL_TOL = 1e-9
_NUMBER = re.compile(r"(\d+)")


def level_order(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct labels in natural order: digit runs compare as numbers, the rest as text, so age
    groups 18-29, 30-44, 45-59, 60+ (or 18-29岁 ... 60岁及以上) come in age order whatever order the
    file lists them in, and 9-17 comes before 18-29."""
    def key(label: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
        parts = _NUMBER.split(label)
        return tuple((0, int(p), "") if k % 2 else (1, 0, p) for k, p in enumerate(parts) if p), label
    return tuple(sorted(set(labels), key=key))


@dataclass(frozen=True)
class MarginTargets:
    """Per township: the common total N_h and, per weighting variable, the level counts."""

    totals: dict[str, float]
    margins: dict[str, dict[str, dict[str, float]]]  # variable -> township -> level -> N
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class Population:
    kind: str  # "cells" or "margins"
    stratum: str
    by: tuple[str, ...]
    frame: pd.DataFrame  # cells: stratum, *by, N; margins: stratum, margin, level, N
    levels: dict[str, tuple[str, ...]]
    source: str = "population"
    notes: tuple[str, ...] = field(default=())

    @property
    def townships(self) -> tuple[str, ...]:
        return tuple(pd.unique(self.frame[self.stratum]))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, stratum: str = "township", by: tuple[str, ...] | None = None,
                   *, source: str = "population", first_line: int | None = None) -> Population:
        if stratum not in frame.columns or "N" not in frame.columns:
            raise InputError(f"needs a {stratum!r} column and an 'N' column; the columns are "
                             f"{', '.join(map(str, frame.columns))}", file=source)
        if frame.empty:
            raise InputError("has no rows", file=source)
        clean = frame.copy()
        for column in clean.columns:
            if column != "N":
                clean[column] = _labels(clean[column], column, source, first_line)
        clean["N"] = _counts(clean["N"], source, first_line)
        if COUNTY in set(clean[stratum]):
            raise InputError(f"{COUNTY!r} is reserved for the whole county", file=source, column=stratum)
        if {"margin", "level"} <= set(clean.columns):
            return cls._margins(clean, stratum, by, source, first_line)
        return cls._cells(clean, stratum, by, source, first_line)

    @classmethod
    def _cells(cls, frame: pd.DataFrame, stratum: str, by: tuple[str, ...] | None, source: str,
               first_line: int | None) -> Population:
        variables = [c for c in frame.columns if c not in (stratum, "N")]
        by = tuple(variables) if by is None else by
        missing = [v for v in by if v not in variables]
        if missing:
            raise InputError(f"no column(s) {', '.join(map(repr, missing))} for the weighting variables",
                             file=source)
        keys = [stratum, *variables]
        _no_duplicates(frame, keys, source, first_line)
        notes: tuple[str, ...] = ()
        unused = [v for v in variables if v not in by]
        if unused:
            notes = (f"{source}: cells summed over {', '.join(unused)} (not weighting variables)",)
        levels = {v: level_order(frame[v]) for v in by}
        cells = frame.groupby([stratum, *by], sort=False, as_index=False)["N"].sum()
        return cls("cells", stratum, by, cells, levels, source, notes)

    @classmethod
    def _margins(cls, frame: pd.DataFrame, stratum: str, by: tuple[str, ...] | None, source: str,
                 first_line: int | None) -> Population:
        extra = [c for c in frame.columns if c not in (stratum, *MARGIN_COLUMNS)]
        if extra:
            raise InputError(f"margins have the columns {stratum},margin,level,N only; also found "
                             f"{', '.join(extra)}", file=source)
        present = [m for m in pd.unique(frame["margin"]) if m != TOTAL]
        by = tuple(present) if by is None else by
        missing = [v for v in by if v not in present]
        if missing:
            raise InputError(f"no margin {', '.join(map(repr, missing))} (margins present: "
                             f"{', '.join(present) or 'none'})", file=source, column="margin")
        is_total = (frame["margin"] == TOTAL).to_numpy()
        _no_duplicates(frame.loc[is_total], [stratum], source, first_line, "total row")
        _no_duplicates(frame.loc[~is_total], [stratum, "margin", "level"], source, first_line)
        unused = [m for m in present if m not in by]
        notes = (f"{source}: margins {', '.join(unused)} not used (not weighting variables)",) \
            if unused else ()
        kept = frame.loc[is_total | frame["margin"].isin(by).to_numpy()]
        levels = {v: level_order(kept.loc[kept["margin"] == v, "level"]) for v in by}
        return cls("margins", stratum, by, kept.reset_index(drop=True), levels, source, notes)

    def cell_counts(self) -> pd.Series:
        """N per (township, *by) cell; only for the cells shape."""
        if self.kind != "cells":
            raise InputError("post-stratification needs joint cell counts (e.g. township,age_group,sex,N); "
                             "this file has margins: use --method rake", file=self.source)
        return self.frame.set_index([self.stratum, *self.by])["N"]

    def margin_targets(self) -> MarginTargets:
        """Margins per township on a common total N_h (see :func:`reconcile`); worked out once (the
        result is read, never changed)."""
        return self._margin_targets

    @cached_property
    def _margin_targets(self) -> MarginTargets:
        if self.kind == "cells":
            totals = self.frame.groupby(self.stratum, sort=False)["N"].sum()
            margins = {v: _nested(self.frame.groupby([self.stratum, v], sort=False)["N"].sum())
                       for v in self.by}
            return MarginTargets({str(k): float(n) for k, n in totals.items()}, margins)
        return reconcile(self.frame, self.stratum, self.by, self.source)


def reconcile(frame: pd.DataFrame, stratum: str, by: tuple[str, ...], source: str) -> MarginTargets:
    """Put every margin of a township on one total N_h, logging each change.

    N_h is the township's ``total`` row if it has one, else the sum of its first weighting
    variable's margin. A margin that sums to something else is rescaled to N_h (census rounding,
    suppression). A margin missing for a township takes the county distribution scaled to N_h.
    """
    log: list[str] = []
    is_total = frame["margin"] == TOTAL
    stated = dict(zip(frame.loc[is_total, stratum], frame.loc[is_total, "N"], strict=True))
    rows = frame.loc[~is_total]
    margins = {v: _nested(rows.loc[rows["margin"] == v].set_index([stratum, "level"])["N"]) for v in by}
    county = {v: rows.loc[rows["margin"] == v].groupby("level", sort=False)["N"].sum() for v in by}
    totals: dict[str, float] = {}
    for town in pd.unique(frame[stratum]):
        total = stated.get(town)
        if total is None:
            first = next((v for v in by if town in margins[v]), None)
            if first is None:
                raise InputError(f"township {town!r} has neither a total row nor any margin", file=source)
            total = sum(margins[first][town].values())
        totals[town] = float(total)
        for v in by:
            log.extend(_fit_margin(margins[v], county[v], town, v, float(total), source))
    return MarginTargets(totals, margins, tuple(log))


def _fit_margin(margin: dict[str, dict[str, float]], county: pd.Series, town: str, variable: str,
                total: float, source: str) -> list[str]:
    if town not in margin:
        share = county / county.sum()
        margin[town] = {str(k): float(v) * total for k, v in share.items()}
        return [f"township {town}: no {variable} margin in {source}; used the county distribution "
                f"scaled to N={total:g}"]
    current = sum(margin[town].values())
    if abs(current - total) <= REL_TOL * max(total, 1.0):
        return []
    if current <= 0:
        raise InputError(f"township {town!r}: margin {variable!r} sums to 0 but the total is {total:g}",
                         file=source)
    margin[town] = {level: n * total / current for level, n in margin[town].items()}
    return [f"township {town}: margin {variable} summed to {current:g}, not {total:g}; rescaled to {total:g}"]


def _nested(series: pd.Series) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    towns, levels = (series.index.get_level_values(k).astype(str).tolist() for k in (0, 1))
    for town, level, n in zip(towns, levels, series.to_numpy(dtype=np.float64).tolist(), strict=True):
        out.setdefault(town, {})[level] = n
    return out


def _labels(column: pd.Series, name: str, source: str, first_line: int | None) -> pd.Series:
    text = column.astype(str).str.strip()
    blank = column.isna() | (text == "")
    if blank.any():
        label = blank[blank].index[0]
        raise row_error("is blank", source=source, first_line=first_line, label=label, column=name)
    return text


def _counts(column: pd.Series, source: str, first_line: int | None) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers < 0)
    if bad.any():
        label = bad[bad].index[0]
        raise row_error(f"{column.loc[label]!r} is not a population count (a number >= 0)", source=source,
                        first_line=first_line, label=label, column="N")
    return numbers.astype(np.float64)


def _no_duplicates(frame: pd.DataFrame, keys: list[str], source: str, first_line: int | None,
                   what: str = "row") -> None:
    duplicated = frame.duplicated(keys)
    if duplicated.any():
        label = duplicated[duplicated].index[0]
        values = ", ".join(f"{k}={frame.loc[label, k]}" for k in keys)
        raise row_error(f"duplicate {what} ({values})", source=source, first_line=first_line, label=label)
