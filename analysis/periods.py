"""The periods of a responses file in time order.

A period is written as a month (``2026-06``, ``2026-6``), a quarter (``2026Q2``, ``2026-Q2``) or a
wave number (``1``, ``2``); anything else is text and keeps its text order. Periods are compared as
what they stand for, not as text: as text ``2026-12`` comes before ``2026-6``, and ``2026Q2`` after
``2026-12``, which would make the earlier round the current one and turn every change around. A file
mixing these forms, or writing one month two ways, cannot be put in order and is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTH = re.compile(r"(\d{4})-(\d{1,2})")
QUARTER = re.compile(r"(\d{4})-?Q([1-4])")
WAVE = re.compile(r"\d+")

FORMS = {"month": "a month (as 2026-06)", "quarter": "a quarter (as 2026Q2)", "wave": "a wave number",
         "text": "not a month (2026-06), a quarter (2026Q2) or a wave number"}


class PeriodError(ValueError):
    """``label`` cannot be put in order with the periods before it; the message says why."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label


@dataclass(frozen=True)
class Period:
    label: str
    form: str
    key: tuple[int, ...] | tuple[str]


def parse(label: str) -> Period:
    """The form of ``label`` and its place in time; a month outside 1-12 is an error."""
    if month := MONTH.fullmatch(label):
        year, number = int(month[1]), int(month[2])
        if not 1 <= number <= 12:
            raise PeriodError(label, f"{label!r} is not a month: the month after the year runs from 1 to 12")
        return Period(label, "month", (year, number))
    if quarter := QUARTER.fullmatch(label):
        return Period(label, "quarter", (int(quarter[1]), int(quarter[2])))
    if WAVE.fullmatch(label):
        return Period(label, "wave", (int(label),))
    return Period(label, "text", (label,))


def in_time_order(labels: list[str]) -> list[str]:
    """``labels`` (distinct) from the earliest period to the latest; a PeriodError names the first label
    (in the order given) that is written in another form than those before it, or that is a period
    written before in another way."""
    seen: dict[tuple[int, ...] | tuple[str], str] = {}
    first: Period | None = None
    for period in map(parse, labels):
        first = first or period
        if period.form != first.form:
            raise PeriodError(period.label, f"period {period.label!r} is {FORMS[period.form]}, but {first.label!r} "
                              f"is {FORMS[first.form]}: write every period one way, so that they can be put in "
                              "time order")
        if period.key in seen:
            raise PeriodError(period.label, f"periods {seen[period.key]!r} and {period.label!r} are the same "
                              f"{period.form}: write it one way")
        seen[period.key] = period.label
    return [label for _, label in sorted((key, label) for key, label in seen.items())]
