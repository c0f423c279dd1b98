"""Data exports: microdata without personal data, and the bulletin's aggregate tables.

Formats: CSV (UTF-8 with BOM so that Excel reads Chinese, plus a codebook CSV), XLSX (data,
variables and values sheets), SPSS .sav and Stata .dta with variable and value labels.
Every writer first refuses a table that carries phone numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyreadstat

from reports.bulletin_data import BulletinData, Lang
from reports.reliability import Reliability, TownshipRow, assess, points, township_rows

Format = Literal["csv", "xlsx", "sav", "dta"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "sav", "dta")
VariableLabels = Mapping[str, str]
ValueLabels = Mapping[str, Mapping[Any, str]]  # variable -> code (int or float) -> label

PHONE_VALUE = re.compile(
    r"(?<![\d.])(?:\+?86[- ]?)?1[3-9]\d{9}(?![\d.])"  # mainland mobile, with or without +86
    r"|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"  # landline with area code
    r"|\+\d{8,15}(?!\d)"  # anything in E.164 form
)
PHONE_NUMBER = re.compile(r"(?:86)?1[3-9]\d{9}")  # a whole number that is a mobile number
PHONE_COLUMN = re.compile(r"phone|mobile|msisdn|e164|(?:^|_)tel(?:_|$)|电话|手机|号码", re.IGNORECASE)
NAME_RULES = {
    "sav": re.compile(r"^[A-Za-z@][A-Za-z0-9_.@#$]{0,63}$"),
    "dta": re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"),
}


class PersonalDataError(ValueError):
    """The table holds something that looks like a phone number."""


def check_no_personal_data(df: pd.DataFrame) -> None:
    """Refuse phone-number columns, and phone numbers hiding in any text or numeric column."""
    for position, column in enumerate(df.columns):
        if PHONE_COLUMN.search(str(column)):
            raise PersonalDataError(f"column {column!r} looks like a phone-number column")
        hits = _phone_like(df.iloc[:, position].dropna())
        if hits:
            raise PersonalDataError(f"column {column!r} holds {hits} value(s) that look like phone numbers")


def _phone_like(values: pd.Series) -> int:
    if values.dtype.kind in "iuf":
        whole = values[values % 1 == 0]
        return int(whole.map(lambda v: f"{v:.0f}").astype(str).str.fullmatch(PHONE_NUMBER).sum())
    if values.dtype.kind in "OSU" or isinstance(values.dtype, pd.StringDtype):
        return int(values.astype(str).str.contains(PHONE_VALUE).sum())
    return 0


def export(
    df: pd.DataFrame,
    path: str | Path,
    fmt: Format,
    variable_labels: VariableLabels | None = None,
    value_labels: ValueLabels | None = None,
) -> list[Path]:
    """Write ``df`` in format ``fmt``; returns the files written."""
    writers = {"csv": write_csv, "xlsx": write_xlsx, "sav": write_sav, "dta": write_dta}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    return writers[fmt](df, Path(path), variable_labels or {}, value_labels or {})


def write_csv(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels
) -> list[Path]:
    """The data as codes, and ``<name>.codebook.csv`` beside it with the labels."""
    check_no_personal_data(df)
    df.to_csv(path, index=False, encoding="utf-8-sig")
    codebook = path.with_name(f"{path.stem}.codebook.csv")
    _codebook(df, variable_labels, value_labels).to_csv(codebook, index=False, encoding="utf-8-sig")
    return [path, codebook]


def _codebook(df: pd.DataFrame, variable_labels: VariableLabels, value_labels: ValueLabels) -> pd.DataFrame:
    rows = []
    for column in df.columns:
        label = variable_labels.get(column, "")
        codes = value_labels.get(column, {})
        rows += [(column, label, _code(code), text) for code, text in codes.items()] or [
            (column, label, "", "")
        ]
    return pd.DataFrame(rows, columns=["variable", "label", "code", "value_label"])


def _code(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else str(code)


def write_xlsx(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels
) -> list[Path]:
    """Sheets ``data`` (codes), ``variables`` (name, label) and ``values`` (variable, code, label)."""
    check_no_personal_data(df)
    variables = pd.DataFrame(
        {"variable": df.columns, "label": [variable_labels.get(c, "") for c in df.columns]}
    )
    values = pd.DataFrame(
        [(var, code, text) for var, codes in value_labels.items() for code, text in codes.items()],
        columns=["variable", "code", "label"],
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        df.to_excel(writer, sheet_name="data", index=False)
        variables.to_excel(writer, sheet_name="variables", index=False)
        values.to_excel(writer, sheet_name="values", index=False)
    return [path]


def write_sav(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels
) -> list[Path]:
    check_no_personal_data(df)
    _check_names(df, "sav")
    pyreadstat.write_sav(
        df,
        path,
        column_labels={c: variable_labels.get(c) for c in df.columns},
        variable_value_labels={k: dict(v) for k, v in value_labels.items()},
    )
    return [path]


def write_dta(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels
) -> list[Path]:
    """Stata 14+ format (UTF-8). Stata labels only integer codes, so other codes are refused."""
    check_no_personal_data(df)
    _check_names(df, "dta")
    for column, codes in value_labels.items():
        if any(not float(code).is_integer() for code in codes):
            raise ValueError(f"Stata value labels need integer codes; {column!r} has {list(codes)}")
    pyreadstat.write_dta(
        df,
        path,
        column_labels={c: variable_labels.get(c) for c in df.columns},
        variable_value_labels={
            k: {int(code): text for code, text in v.items()} for k, v in value_labels.items()
        },
    )
    return [path]


def _check_names(df: pd.DataFrame, fmt: Literal["sav", "dta"]) -> None:
    bad = [str(c) for c in df.columns if not NAME_RULES[fmt].match(str(c))]
    if bad:
        raise ValueError(f"variable names not allowed in .{fmt}: {', '.join(bad)}")


# ---- the bulletin's aggregate table -------------------------------------------------------------

RELIABILITY_CODES = {Reliability.OK: 1, Reliability.FLAGGED: 2, Reliability.SUPPRESSED: 3}
TIER_CODES = {"above": 1, "same": 2, "below": 3}
AGGREGATE_LABELS: dict[str, tuple[str, str]] = {
    "period": ("时期", "Period"),
    "stratum": ("地区代码（ALL 为全县）", "Area code (ALL = county)"),
    "area": ("地区", "Area"),
    "index": ("指数代码", "Index code"),
    "index_name": ("指数", "Index"),
    "unit": ("单位", "Unit"),
    "n": ("有效回答人数（未加权）", "Valid answers (unweighted)"),
    "estimate": ("估计值（0–100）", "Estimate (0–100)"),
    "se": ("标准误", "Standard error"),
    "ci_low": ("95%置信区间下限", "95% CI lower"),
    "ci_high": ("95%置信区间上限", "95% CI upper"),
    "deff": ("设计效应", "Design effect"),
    "n_eff": ("有效样本量", "Effective n"),
    "reliability": ("发布状态", "Publication status"),
    "rank": ("名次", "Rank"),
    "rank_low": ("名次区间下限", "Rank range from"),
    "rank_high": ("名次区间上限", "Rank range to"),
    "tier": ("与全县比较", "vs county"),
}
AGGREGATE_VALUES: dict[str, dict[int, tuple[str, str]]] = {
    "reliability": {1: ("发布", "published"), 2: ("发布，谨慎使用（※）", "published, flagged ※"),
                    3: ("样本量不足，不发布", "withheld: too few interviews")},
    "tier": {1: ("高于全县", "above the county"), 2: ("无显著差异", "not different"),
             3: ("低于全县", "below the county")},
}  # fmt: skip


def aggregate_table(
    data: BulletinData, lang: Lang = "zh"
) -> tuple[pd.DataFrame, dict[str, str], ValueLabels]:
    """The current period's county and township estimates as published: withheld cells are empty.

    Values are on the 0–100 scale (shares as percentages), as in the bulletin.
    """
    rows = []
    for index in data.indices:
        county = data.estimate(index.id)
        rows.append(
            _aggregate_row(data, index.id, TownshipRow("ALL", county, assess(county, data.rule)), lang)
        )
        rows += [_aggregate_row(data, index.id, row, lang) for row in township_rows(data, index.id)]
    frame = pd.DataFrame(rows, columns=list(AGGREGATE_LABELS))
    for column in ("rank", "rank_low", "rank_high", "tier"):  # empty for the county and withheld rows
        frame[column] = frame[column].astype("float64")
    variable_labels = {k: (zh if lang == "zh" else en) for k, (zh, en) in AGGREGATE_LABELS.items()}
    value_labels = {
        k: {code: (zh if lang == "zh" else en) for code, (zh, en) in codes.items()}
        for k, codes in AGGREGATE_VALUES.items()
    }
    return frame, variable_labels, value_labels


def _aggregate_row(data: BulletinData, index_id: str, row: TownshipRow, lang: Lang) -> list[object]:
    index = next(i for i in data.indices if i.id == index_id)
    est = row.estimate
    published = est is not None and row.reliability is not Reliability.SUPPRESSED

    def shown(value: float | None, scale: bool = True) -> float:
        if not published or value is None:
            return math.nan
        return points(value, index.kind) if scale else value

    area = data.township_name(row.code, lang) if row.code != "ALL" else ("全县" if lang == "zh" else "County")
    return [
        data.periods.current,
        row.code,
        area,
        index.id,
        index.name.get(lang),
        "%" if index.kind == "share" else ("分" if lang == "zh" else "points"),
        est.n if est else 0,
        shown(est.estimate if est else None),
        shown(est.se if est else None),
        shown(est.ci_low if est else None),
        shown(est.ci_high if est else None),
        shown(est.deff if est else None, scale=False),
        shown(est.n_eff if est else None, scale=False),
        RELIABILITY_CODES[row.reliability],
        row.rank,
        row.rank_low,
        row.rank_high,
        TIER_CODES.get(row.tier or ""),
    ]
