"""Data exports: microdata without personal data, and aggregate tables (see ``aggregates``).

Formats: CSV (UTF-8 with BOM so that Excel reads Chinese, plus a codebook CSV), XLSX (data,
variables and values sheets), SPSS .sav and Stata .dta with variable and value labels.
Every writer first refuses a table that carries phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyreadstat

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
    _whole_numbers_as_integers(df).to_csv(path, index=False, encoding="utf-8-sig")
    codebook = path.with_name(f"{path.stem}.codebook.csv")
    _codebook(df, variable_labels, value_labels).to_csv(codebook, index=False, encoding="utf-8-sig")
    return [path, codebook]


def _whole_numbers_as_integers(df: pd.DataFrame) -> pd.DataFrame:
    """Code columns with a blank are floats in pandas: write their codes as 1, not 1.0, so that
    they read back as the labels a population file uses (``minyi analyze``)."""
    whole = [c for c in df.columns if df[c].dtype.kind == "f" and (df[c].dropna() % 1 == 0).all()]
    return df.astype({c: "Int64" for c in whole}) if whole else df


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
    no_value = [c for c in df.columns if df[c].dtype == object and df[c].isna().all()]
    df = df.assign(**dict.fromkeys(no_value, float("nan")))  # numeric missing: readstat cannot type None
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
