"""Numbers and dates as the bulletin prints them: one decimal, shares as percentages."""

from __future__ import annotations

from datetime import date, datetime

from analysis.results import Change, Estimate
from reports.bulletin_data import Lang
from reports.reliability import points

DASH = "—"
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def value(x: float, kind: str) -> str:
    """An index value: ``92.4%`` for a share, ``85.3`` for a score."""
    shown = f"{points(x, kind):.1f}"
    return f"{shown}%" if kind == "share" else shown


def estimate(est: Estimate | None) -> str:
    if est is None or est.estimate is None:
        return DASH
    return value(est.estimate, est.kind)


def ci(est: Estimate | None) -> str:
    if est is None or est.ci_low is None or est.ci_high is None:
        return DASH
    return f"{points(est.ci_low, est.kind):.1f}–{points(est.ci_high, est.kind):.1f}"


def design_effect(est: Estimate | None) -> str:
    """The design effect to two decimals; "—" when it is undefined (see ``note_deff``)."""
    if est is None or est.deff is None:
        return DASH
    return f"{est.deff:.2f}"


def signed(x: float, kind: str) -> str:
    """A change in percentage points (shares) or points (scores), with its sign unless it rounds
    to nothing (never "-0.0")."""
    shown = round(points(x, kind), 1)
    return "0.0" if shown == 0 else f"{shown:+.1f}"


def change(ch: Change | None, kind: str) -> str:
    """Signed change with ▲/▼ when the analysis found it significant."""
    if ch is None or ch.change is None:
        return DASH
    mark = ("▲" if ch.change > 0 else "▼") if ch.significant else ""
    return signed(ch.change, kind) + mark


def integer(n: int) -> str:
    return f"{n:,}"


def rate(x: float) -> str:
    return f"{x * 100:.1f}%"


def day(d: date, lang: Lang) -> str:
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")
