"""AAPOR Standard Definitions (10th edition) telephone disposition codes used by Minyi.

Codes are strings (``"2.12"``) so that sub-codes sort and group by prefix. ``group`` is the
aggregate the outcome-rate formulas use: I, P, R, NC, O, UH, UR, UO, NE.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Disposition:
    code: str
    group: str
    en: str
    zh: str


_TABLE: tuple[Disposition, ...] = (
    Disposition("1.1", "I", "Complete", "完成访问"),
    Disposition("1.2", "P", "Partial", "部分完成"),
    Disposition("2.11", "R", "Refusal", "拒访"),
    Disposition("2.12", "R", "Break-off", "中途退出"),
    Disposition("2.21", "NC", "Respondent never available", "受访者始终不便"),
    Disposition("2.22", "NC", "Answering machine, household confirmed", "语音信箱（已确认住户）"),
    Disposition("2.30", "O", "Other eligible non-interview (max attempts after contact)", "其他（已接触未完成）"),
    Disposition("2.32", "O", "Unable / incompetent", "无法作答"),
    Disposition("2.33", "O", "Language problem", "语言障碍"),
    Disposition("3.11", "UH", "Not attempted", "未拨打"),
    Disposition("3.12", "UH", "Always busy", "始终占线"),
    Disposition("3.13", "UH", "No answer", "无人接听"),
    Disposition("3.14", "UH", "Answering machine, household unknown", "语音信箱（住户未知）"),
    Disposition("3.15", "UH", "Call blocking", "呼叫被拦截"),
    Disposition("3.16", "UH", "Technical phone problems", "线路技术故障"),
    Disposition("3.21", "UR", "No screener completed", "未完成甄别"),
    Disposition("3.90", "UO", "Other unknown eligibility (max attempts, never contacted)", "其他（资格未知）"),
    Disposition("4.10", "NE", "Out of sample", "样本外"),
    Disposition("4.20", "NE", "Fax / data line", "传真或数据线路"),
    Disposition("4.31", "NE", "Non-working number", "空号"),
    Disposition("4.32", "NE", "Disconnected", "停机"),
    Disposition("4.33", "NE", "Temporarily out of service", "暂停服务"),
    Disposition("4.51", "NE", "Business / government", "单位电话"),
    Disposition("4.70", "NE", "No eligible respondent", "无合格受访者"),
    Disposition("4.80", "NE", "Quota filled", "配额已满"),
    Disposition("4.90", "NE", "Other not eligible", "其他不合格"),
)

DISPOSITIONS: dict[str, Disposition] = {d.code: d for d in _TABLE}

COMPLETE = "1.1"
PARTIAL = "1.2"
REFUSAL = "2.11"
BREAK_OFF = "2.12"
MACHINE_HOUSEHOLD = "2.22"
OTHER_CONTACTED = "2.30"
NOT_ATTEMPTED = "3.11"
BUSY = "3.12"
NO_ANSWER = "3.13"
MACHINE_UNKNOWN = "3.14"
TECHNICAL = "3.16"
NO_SCREENER = "3.21"
UNKNOWN_OTHER = "3.90"
FAX = "4.20"
NON_WORKING = "4.31"
NOT_ELIGIBLE = "4.70"
QUOTA_FILLED = "4.80"


def group_of(code: str) -> str:
    """The rate aggregate of a code; unknown sub-codes fall back to their parent's group."""
    if code in DISPOSITIONS:
        return DISPOSITIONS[code].group
    prefixes = {"1.1": "I", "1.2": "P", "2.1": "R", "2.2": "NC", "2.3": "O", "2.9": "O",
                "3.1": "UH", "3.2": "UR", "3.9": "UO", "4.": "NE"}
    for prefix, group in prefixes.items():
        if code.startswith(prefix):
            return group
    raise KeyError(f"not an AAPOR disposition code: {code!r}")
