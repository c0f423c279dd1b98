"""Exports round-trip with their labels, and never carry phone numbers."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from openpyxl import load_workbook

from reports.aggregates import aggregate_table
from reports.bulletin_data import BulletinData
from reports.exports import PersonalDataError, check_no_personal_data, export
from reports.extract import mark_not_asked
from survey.labels import NOT_ASKED, missing_codes
from survey.questionnaire.loader import loads

VARIABLE_LABELS = {
    "id": "受访者编号",
    "township": "乡镇",
    "q_safety": "您感觉安全吗？",
    "age_group": "年龄组",
    "weight": "最终权重",
    "comment": "意见建议",
}
VALUE_LABELS = {
    "q_safety": {1: "安全", 2: "比较安全", 3: "不太安全", 4: "不安全", 8: "说不清", 9: "拒答"},
    "age_group": {1: "18–29岁", 2: "30–44岁", 3: "45–59岁", 4: "60岁及以上"},
}


@pytest.fixture
def microdata() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [101, 102, 103, 104],
        "township": ["T001", "T001", "T002", "T003"],
        "q_safety": [1.0, 3.0, 8.0, math.nan],
        "age_group": [1, 2, 3, 4],
        "weight": [812.5, 640.25, 1203.0, 955.125],
        "comment": ["路灯太少", "", "希望多巡逻", "无"],
    })  # fmt: skip


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_statistical_formats_round_trip_values_and_labels(
    microdata: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    (path,) = export(microdata, tmp_path / f"answers.{fmt}", fmt, VARIABLE_LABELS, VALUE_LABELS)  # type: ignore[arg-type]
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    back, meta = reader(str(path))
    pd.testing.assert_frame_equal(back, microdata, check_dtype=False)
    assert meta.column_names_to_labels == VARIABLE_LABELS
    assert {
        k: {int(c): t for c, t in v.items()} for k, v in meta.variable_value_labels.items()
    } == VALUE_LABELS


def test_csv_has_a_bom_and_a_codebook(microdata: pd.DataFrame, tmp_path: Path) -> None:
    data, codebook = export(microdata, tmp_path / "answers.csv", "csv", VARIABLE_LABELS, VALUE_LABELS)
    assert data.read_bytes().startswith(b"\xef\xbb\xbfid,township,")
    pd.testing.assert_frame_equal(pd.read_csv(data, encoding="utf-8-sig", keep_default_na=False,
                                              na_values=[""]).fillna({"comment": ""}), microdata,
                                  check_dtype=False)  # fmt: skip
    book = pd.read_csv(codebook, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert codebook.name == "answers.codebook.csv"
    assert book[book.variable == "q_safety"][["code", "value_label"]].values.tolist()[:2] == [
        ["1", "安全"],
        ["2", "比较安全"],
    ]
    assert book[book.variable == "weight"][["label", "code"]].values.tolist() == [["最终权重", ""]]


def test_xlsx_has_data_variables_and_values_sheets(microdata: pd.DataFrame, tmp_path: Path) -> None:
    (path,) = export(microdata, tmp_path / "answers.xlsx", "xlsx", VARIABLE_LABELS, VALUE_LABELS)
    sheets = pd.read_excel(path, sheet_name=None, keep_default_na=False, na_values=[""])
    assert list(sheets) == ["data", "variables", "values"]
    pd.testing.assert_frame_equal(sheets["data"].fillna({"comment": ""}), microdata, check_dtype=False)
    assert dict(sheets["variables"].values.tolist()) == VARIABLE_LABELS
    assert len(sheets["values"]) == sum(len(v) for v in VALUE_LABELS.values())


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["13812345678", None], name="contact"),
        pd.Series(["请打 +86 13912345678 回电", "好"], name="remark"),
        pd.Series(["请打 +86 13912345678 回电", "好"], name="comment"),  # a duplicate column name
        pd.Series(["0731-88881234", "x"], name="note"),
        pd.Series([13812345678, 1], name="case_ref"),
        pd.Series([13812345678.0, 2.5], name="case_ref"),
        pd.Series([1, 2], name="phone_e164"),
        pd.Series([1, 2], name="手机号码"),
    ],
)
def test_phone_numbers_are_refused(microdata: pd.DataFrame, column: pd.Series, tmp_path: Path) -> None:
    df = pd.concat([microdata.iloc[:2], column.to_frame()], axis=1)
    with pytest.raises(PersonalDataError):
        check_no_personal_data(df)
    with pytest.raises(PersonalDataError):
        export(df, tmp_path / "x.csv", "csv")
    assert not (tmp_path / "x.csv").exists()


def test_ordinary_numbers_pass_the_phone_check(microdata: pd.DataFrame) -> None:
    check_no_personal_data(microdata.assign(big_id=[20261008000001, 2, 3, 4], score=[0.1381234567, 1, 2, 3]))


def test_stata_refuses_non_integer_value_codes_and_bad_names(microdata: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="integer codes"):
        export(microdata, tmp_path / "a.dta", "dta", {}, {"weight": {0.5: "half"}})
    with pytest.raises(ValueError, match="variable names"):
        export(microdata.rename(columns={"q_safety": "q safety"}), tmp_path / "b.dta", "dta")


def test_unknown_format_is_refused(microdata: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export(microdata, tmp_path / "a.json", "json")  # type: ignore[arg-type]


def test_aggregate_table_applies_the_publication_rule(sample: BulletinData, tmp_path: Path) -> None:
    table, variable_labels, value_labels = aggregate_table(sample, "zh")
    safety = table[table["index"] == "safety"].set_index("stratum")
    county = sample.estimate("safety")
    assert county is not None and county.estimate is not None
    assert safety.loc["ALL", "estimate"] == pytest.approx(county.estimate * 100)
    withheld = safety[safety.reliability == 3]
    assert len(withheld) == 2 and withheld.estimate.isna().all() and withheld["rank"].isna().all()
    assert sorted(safety.loc[safety.reliability < 3, "rank"].drop("ALL").astype(int)) == list(range(1, 20))
    (path,) = export(table, tmp_path / "townships.sav", "sav", variable_labels, value_labels)
    back, meta = pyreadstat.read_sav(str(path))
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert meta.variable_value_labels["reliability"][3.0] == "样本量不足，不发布"


ROUTED = """
id: routed
version: "1"
title: {zh: 跳答, en: Routing}
languages: [zh]
settings: {consent: not_required}
questions:
  - id: q_any
    type: yesno
    text: {zh: 有没有？}
    choices:
      - {key: 1, code: 1, label: {zh: 有}, goto: q_last}
      - {key: 2, code: 2, label: {zh: 没有}}
  - id: q_what
    type: multiple
    text: {zh: 哪些？}
    choices:
      - {key: 1, code: 1, label: {zh: 甲}}
      - {key: 2, code: 2, label: {zh: 乙}}
  - id: q_why
    type: single
    when: q_what == [2]
    text: {zh: 为什么？}
    choices:
      - {key: 1, code: 1, label: {zh: 因为}}
      - {key: 9, code: 9, label: {zh: 拒答}, missing: true}
  - id: q_last
    type: single
    text: {zh: 最后}
    choices:
      - {key: 1, code: 1, label: {zh: 好}}
"""


def test_not_asked_follows_goto_and_when_and_leaves_unanswered_questions_blank() -> None:
    q = loads(ROUTED)
    frame = pd.DataFrame({
        "q_any": [1, 2, 2, 2], "q_what_1": [None, 1, 0, None], "q_what_2": [None, 0, 1, None],
        "q_why": [None, None, 9, None], "q_last": [1, 1, 1, None],
    })  # fmt: skip
    marked = mark_not_asked(frame, q)
    assert marked["q_what_1"].tolist()[:2] == [NOT_ASKED, 1]  # goto q_last passed over q_what
    assert marked["q_why"].tolist()[:3] == [NOT_ASKED, NOT_ASKED, 9]  # row 2: when q_what == [2] was false
    # no answer to q_what: blank, not "not asked"; q_why, asked only after q_what == [2], was not asked
    assert marked.iloc[3].isna().tolist() == [False, True, True, False, True]
    assert missing_codes(q, not_asked=True) == {"q_what_1": [NOT_ASKED], "q_what_2": [NOT_ASKED],
                                                "q_why": [9, NOT_ASKED]}


def test_text_a_spreadsheet_would_run_stays_text(tmp_path: Path) -> None:
    """A round's period and a questionnaire's labels are typed by people: a cell that starts with
    =, +, - or @ must not become a formula (a DDE command, a link out) in the official's Excel."""
    frame = pd.DataFrame({"id": [1, 2], "wave": ['=HYPERLINK("http://x.example","y")', "2026-11"], "q": [-1, 2]})
    labels, values = {"q": "@SUM(1)"}, {"q": {-1: "+cmd|' /C calc'!A0", 2: "-2+3"}}
    (book,) = export(frame, tmp_path / "a.xlsx", "xlsx", labels, values)
    cells = [cell for sheet in load_workbook(book).worksheets for row in sheet.iter_rows() for cell in row]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    assert pd.read_excel(book, sheet_name="data")["wave"][0] == '=HYPERLINK("http://x.example","y")'
    data, codebook = export(frame, tmp_path / "a.csv", "csv", labels, values)
    rows = list(csv.reader(data.read_text("utf-8-sig").splitlines()))
    assert rows[1] == ["1", "'=HYPERLINK(\"http://x.example\",\"y\")", "-1"] and rows[2] == ["2", "2026-11", "2"]
    book_rows = [row for row in csv.reader(codebook.read_text("utf-8-sig").splitlines()) if row[0] == "q"]
    assert [row[1:4] for row in book_rows] == [["'@SUM(1)", "-1", "'+cmd|' /C calc'!A0"], ["'@SUM(1)", "2", "'-2+3"]]
