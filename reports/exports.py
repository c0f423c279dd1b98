"""Data exports: microdata without personal data, and aggregate tables (see ``aggregates``).

Formats: CSV (UTF-8 with BOM so that Excel reads Chinese, plus a codebook CSV), XLSX (data,
variables and values sheets), SPSS .sav and Stata .dta with variable and value labels, declared
missing values and integer display formats for whole-number columns (codes are 1, never 1.0).
Every writer first refuses a table that carries phone numbers.
No text becomes a formula in a spreadsheet: XLSX stores a text that starts with ``=`` as text,
CSV puts an apostrophe before a text that starts with =, +, - or @ (``'=1+2``; a number such as
``-1`` is left as it is).

Declared missing values: SPSS user-missing values (at most three per variable); Stata has no
user-missing numbers, only the extended missing values .a-.z, so a variable's declared codes
become .a, .b, ... in the order declared, labelled as the codes were. The codebook says which.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyreadstat

Format = Literal["csv", "xlsx", "sav", "dta"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "sav", "dta")
VariableLabels = Mapping[str, str]
ValueLabels = Mapping[str, Mapping[Any, str]]  # variable -> code (int or float) -> label
MissingValues = Mapping[str, Sequence[int]]  # variable -> codes declared missing (don't know, refused, not asked)
SPSS_MISSING_MAX = 3  # discrete user-missing values SPSS allows a variable

PHONE_VALUE = re.compile(
    r"(?<![\d.])(?:\+?86[- ]?)?1[3-9]\d{9}(?![\d.])"  # mainland mobile, with or without +86
    r"|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"  # landline with area code
    r"|\+\d{8,15}(?!\d)"  # anything in E.164 form
)
PHONE_NUMBER = re.compile(r"(?:86)?1[3-9]\d{9}")  # a whole number that is a mobile number
PHONE_COLUMN = re.compile(r"phone|mobile|msisdn|e164|(?:^|_)tel(?:_|$)|电话|手机|号码", re.IGNORECASE)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula
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
    missing: MissingValues | None = None,
    codebook: bool = False,
) -> list[Path]:
    """Write ``df`` in format ``fmt``; returns the files written. A CSV always has its codebook
    beside it, the other formats with ``codebook``."""
    writers = {"csv": write_csv, "xlsx": write_xlsx, "sav": write_sav, "dta": write_dta}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    target, labels, values, declared = Path(path), variable_labels or {}, value_labels or {}, missing or {}
    written = writers[fmt](df, target, labels, values, declared)
    if codebook and fmt != "csv":
        written.append(write_codebook(df, target, labels, values, declared))
    return written


def write_csv(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels,
    missing: MissingValues,
) -> list[Path]:
    """The data as codes, and ``<name>.codebook.csv`` beside it with the labels."""
    check_no_personal_data(df)
    _inert(_whole_numbers_as_integers(df)).to_csv(path, index=False, encoding="utf-8-sig")
    return [path, write_codebook(df, path, variable_labels, value_labels, missing)]


def write_codebook(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels,
    missing: MissingValues,
) -> Path:
    """``<name>.codebook.csv`` beside ``path``: every variable with its label, and one row per
    labelled code with its label, whether it is declared missing and its Stata missing value."""
    check_no_personal_data(df)
    codebook = path.with_name(f"{path.stem}.codebook.csv")
    _inert(_codebook(df, variable_labels, value_labels, missing)).to_csv(codebook, index=False, encoding="utf-8-sig")
    return codebook


def _inert(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text that a spreadsheet opening the CSV would run as a formula (``=``,
    ``+``, ``-``, ``@`` first: a survey's period, a questionnaire's labels are anyone's text)
    behind an apostrophe, as a spreadsheet shows typed text; numbers such as ``-1`` are left."""
    out = df.copy()
    for position in range(df.shape[1]):
        if df.iloc[:, position].dtype.kind in "OSU":  # text, of object or pandas' string dtype
            out.iloc[:, position] = df.iloc[:, position].map(_inert_text)
    return out


def _inert_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _number(value):
        return "'" + value
    return value


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _whole_numbers_as_integers(df: pd.DataFrame) -> pd.DataFrame:
    """Code columns with a blank are floats in pandas: write their codes as 1, not 1.0, so that
    they read back as the labels a population file uses (``minyi analyze``)."""
    whole = _integer_columns(df)
    return df.astype({c: "Int64" for c in whole}) if whole else df


def _integer_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if df[c].dtype.kind in "iuf" and (df[c].dropna() % 1 == 0).all()]


def _width(values: pd.Series, codes: Sequence[Any]) -> int:
    """Characters the widest whole number of ``values`` and ``codes`` needs (sign included)."""
    numbers = [*values.dropna().tolist(), *codes]
    return max((len(str(int(v))) for v in numbers), default=1)


def _codebook(
    df: pd.DataFrame, variable_labels: VariableLabels, value_labels: ValueLabels, missing: MissingValues
) -> pd.DataFrame:
    rows = []
    for column in df.columns:
        label = variable_labels.get(column, "")
        codes = value_labels.get(column, {})
        letters = _stata_letters(missing.get(column, ()))
        rows += [
            (column, label, _code(code), text, "yes" if code in letters else "", letters.get(code, ""))
            for code, text in codes.items()
        ] or [(column, label, "", "", "", "")]
    return pd.DataFrame(rows, columns=["variable", "label", "code", "value_label", "missing", "stata_missing"])


def _stata_letters(codes: Sequence[int]) -> dict[Any, str]:
    """Declared missing code -> its Stata extended missing value (".a", ".b", ...)."""
    if len(codes) > len(string.ascii_lowercase):
        raise ValueError(f"Stata has {len(string.ascii_lowercase)} extended missing values, not {len(codes)}")
    return {code: f".{letter}" for code, letter in zip(codes, string.ascii_lowercase, strict=False)}


def _code(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else str(code)


def write_xlsx(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels,
    missing: MissingValues,
) -> list[Path]:
    """Sheets ``data`` (codes), ``variables`` (name, label) and ``values`` (variable, code, label,
    declared missing)."""
    check_no_personal_data(df)
    variables = pd.DataFrame(
        {"variable": df.columns, "label": [variable_labels.get(c, "") for c in df.columns]}
    )
    values = pd.DataFrame(
        [(var, code, text, "yes" if code in missing.get(var, ()) else "")
         for var, codes in value_labels.items() for code, text in codes.items()],
        columns=["variable", "code", "label", "missing"],
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        _whole_numbers_as_integers(df).to_excel(writer, sheet_name="data", index=False)
        variables.to_excel(writer, sheet_name="variables", index=False)
        values.to_excel(writer, sheet_name="values", index=False)
        for sheet in writer.book.worksheets:
            _text_not_formulas(sheet)
    return [path]


def _text_not_formulas(sheet: Any) -> None:
    """openpyxl stores a text that starts with ``=`` as a formula, which Excel would run: store
    it as the text it is (the exports hold a survey's period and a questionnaire's labels, which
    anyone may have written)."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def write_sav(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels,
    missing: MissingValues,
) -> list[Path]:
    """SPSS .sav: whole-number columns get Fw.0 formats, ``missing`` codes are user-missing."""
    check_no_personal_data(df)
    _check_names(df, "sav")
    crowded = [c for c, codes in missing.items() if len(codes) > SPSS_MISSING_MAX]
    if crowded:
        raise ValueError(f"SPSS declares at most {SPSS_MISSING_MAX} missing values; {', '.join(crowded)} have more")
    formats = {c: f"F{_width(df[c], [*value_labels.get(c, {}), *missing.get(c, ())])}.0"
               for c in _integer_columns(df)}
    pyreadstat.write_sav(
        _whole_numbers_as_integers(df),
        path,
        column_labels={c: variable_labels.get(c) for c in df.columns},
        variable_value_labels={k: dict(v) for k, v in value_labels.items()},
        missing_ranges={c: list(codes) for c, codes in missing.items() if c in df.columns and codes},
        variable_format=formats,
    )
    return [path]


def write_dta(
    df: pd.DataFrame, path: Path, variable_labels: VariableLabels, value_labels: ValueLabels,
    missing: MissingValues,
) -> list[Path]:
    """Stata 14+ format (UTF-8). Stata labels only integer codes, so other codes are refused;
    ``missing`` codes become extended missing values (.a, .b, ...), whole numbers get %w.0f."""
    check_no_personal_data(df)
    _check_names(df, "dta")
    for column, codes in value_labels.items():
        if any(not float(code).is_integer() for code in codes):
            raise ValueError(f"Stata value labels need integer codes; {column!r} has {list(codes)}")
    letters = {c: {code: letter[1:] for code, letter in _stata_letters(codes).items()}
               for c, codes in missing.items() if c in df.columns and codes}
    formats = {c: f"%{_width(df[c], [*value_labels.get(c, {})])}.0f" for c in _integer_columns(df)}
    no_value = [c for c in df.columns if df[c].dtype == object and df[c].isna().all()]
    data = df.assign(**dict.fromkeys(no_value, float("nan")))  # numeric missing: readstat cannot type None
    data = data.assign(**{c: data[c].map(lambda v, to=to: to.get(v, v)).astype(object) for c, to in letters.items()})
    labelled: dict[str, dict[Any, str]] = {  # a declared code's label goes to its letter
        k: {letters.get(k, {}).get(code, int(code)): text for code, text in v.items()} for k, v in value_labels.items()
    }
    pyreadstat.write_dta(
        data,
        path,
        column_labels={c: variable_labels.get(c) for c in df.columns},
        variable_value_labels=labelled,
        missing_user_values={c: list(to.values()) for c, to in letters.items()},
        variable_format=formats,
    )
    return [path]


def _check_names(df: pd.DataFrame, fmt: Literal["sav", "dta"]) -> None:
    bad = [str(c) for c in df.columns if not NAME_RULES[fmt].match(str(c))]
    if bad:
        raise ValueError(f"variable names not allowed in .{fmt}: {', '.join(bad)}")
