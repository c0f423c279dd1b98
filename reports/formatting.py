"""Numbers and dates as the bulletin prints them: one decimal, shares as percentages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from analysis.periods import MONTH, QUARTER
from analysis.results import Change, Estimate
from reports.bulletin_data import Lang, Text
from reports.reliability import finite, points
from survey.clock import to_local

DASH = "—"
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


#: Zones that keep China Standard Time, printed as 北京时间 / Beijing time.
BEIJING_TIME = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Chungking", "PRC"})


def value(x: float, kind: str) -> str:
    """An index value: ``92.4%`` for a share, ``85.3`` for a score."""
    shown = f"{points(x, kind):.1f}"
    return f"{shown}%" if kind == "share" else shown


def estimate(est: Estimate | None) -> str:
    if est is None or not finite(est.estimate):
        return DASH
    return value(est.estimate, est.kind)


def ci(est: Estimate | None) -> str:
    if est is None or not finite(est.ci_low) or not finite(est.ci_high):
        return DASH
    return f"{points(est.ci_low, est.kind):.1f}–{points(est.ci_high, est.kind):.1f}"


def design_effect(est: Estimate | None) -> str:
    """The design effect to two decimals; "—" when it is undefined (see ``note_deff``)."""
    if est is None or not finite(est.deff):
        return DASH
    return f"{est.deff:.2f}"


def signed(x: float, kind: str) -> str:
    """A change in percentage points (shares) or points (scores), with its sign unless it rounds
    to nothing (never "-0.0")."""
    shown = round(points(x, kind), 1)
    return "0.0" if shown == 0 else f"{shown:+.1f}"


def change(ch: Change | None, kind: str) -> str:
    """Signed change with ▲/▼ when the analysis found it significant."""
    if ch is None or not finite(ch.change):
        return DASH
    mark = ("▲" if ch.change > 0 else "▼") if ch.significant else ""
    return signed(ch.change, kind) + mark


def p_value(p: float | None) -> str:
    """A p-value to three decimals, "<0.001" below that, "—" when the analysis gave none."""
    if not finite(p):
        return DASH
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def integer(n: int) -> str:
    return f"{n:,}"


def rate(x: float) -> str:
    return f"{x * 100:.1f}%"


def day(d: date, lang: Lang) -> str:
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"


def zone(tz: str, lang: Lang, on: date) -> str:
    """The name of the time zone ``tz`` as a reader knows it: 北京时间, or the IANA name with its UTC
    offset on the date ``on`` (e.g. ``Asia/Tokyo, UTC+9``), which reads well in brackets too."""
    if tz in BEIJING_TIME:
        return "北京时间" if lang == "zh" else "Beijing time"
    offset = datetime.combine(on, time(12), ZoneInfo(tz)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign, (hours, rest) = ("+" if minutes >= 0 else "−"), divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return f"{tz}，{utc}" if lang == "zh" else f"{tz}, {utc}"


def stamp(utc: datetime, tz: str, lang: Lang) -> str:
    """A naive-UTC moment as the centre's local date and time, with the zone named."""
    local = to_local(utc, tz)
    return f"{local:%Y-%m-%d %H:%M} {zone(tz, lang, local.date())}"


def period_label(period: str) -> Text:
    """``2026-10`` → 2026年10月 / October 2026; ``2026Q3`` → 2026年第3季度 / 2026 Q3; others as given."""
    month = MONTH.fullmatch(period)
    if month and 1 <= int(month[2]) <= 12:
        y, m = int(month[1]), int(month[2])
        return Text(f"{y}年{m}月", date(y, m, 1).strftime("%B %Y"))
    quarter = QUARTER.fullmatch(period)
    if quarter:
        return Text(f"{quarter[1]}年第{quarter[2]}季度", f"{quarter[1]} Q{quarter[2]}")
    return Text(period, period)
