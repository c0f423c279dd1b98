"""``minyi questionnaire validate`` on the bundled questionnaire, its XLSForm twin and a corpus of
broken files (tests/survey/questionnaires/, one fault per file): exit 0 with a summary, or exit 2
with every problem at its line (or cell) and naming the question, and never a traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from questionnaires.safety_xlsform import SHEETS, write_xlsform
from typer.testing import CliRunner, Result

from minyi.cli import app
from survey.questionnaire import bundled_path

CORPUS = Path(__file__).parent / "questionnaires"

# file -> (location, words of the message); the location is file:line[:column] or a cell.
BROKEN = {
    "unknown_key.yaml": (":9:5", "question q_safety: unknown key 'colour'"),
    "duplicate_dtmf_key.yaml": (":12:10", "question q_safety: duplicate DTMF key 2 (choices #2 and #3)"),
    "skip_to_missing.yaml": (":10:54", "question q_safety: choice key 1 skips to missing question 'q_trends'"),
    "condition_on_later_question.yaml": (":8:5", "question q_worries: condition 'q_safety == 2' depends on "
                                                 "question 'q_safety', which is not asked before it"),
    "skip_cycle.yaml": (":17:64", "question q_sure: choice key 2 skips back to 'q_safety': a cycle"),
    "missing_language_text.yaml": (":11:5", "question q_trend: text has no 'en' text"),
    "bad_yaml_syntax.yaml": (":9:7", "YAML: expected ',' or '}', but got ':' (while parsing a flow mapping started "
                                     "at line 8): a {...} left open, or a ':' or ',' inside it"),
    "duplicate_yaml_key.yaml": (":9:5", "duplicate key 'type' (first at line 7): keep one of them"),
    "tab_indented.yaml": (":6:1", "YAML: found character '\\t' that cannot start any token: indent with spaces"),
    "not_utf8.yaml": (":8", "not UTF-8 text"),
    "empty.yaml": ("", "the file is empty"),
    "not_a_mapping.yaml": (":1:1", "the file must be a mapping"),
    "wrong_types.yaml": (":10:10", "question q_safety choices #1 key: expected a whole number, got 'one'"),
    "missing_required.yaml": (":5:5", "question q_police: missing required key text"),
    "condition_wrong_code.yaml": (":15:5", "question q_why: condition 'q_safety == 6' tests 'q_safety' for 6, "
                                           "which is not one of its codes (1, 2, 8)"),
    "condition_syntax.yaml": (":14:5", "question q_why: cannot parse condition 'q_safety = = 2'"),
    "number_without_range.yaml": (":6:5", "question d_years: a number question needs min and max"),
    "duplicate_question_id.yaml": (":9:5", "question q_police: id already used by question #1"),
    "not_a_workbook.xlsx": ("", "not an Excel .xlsx workbook"),
    "no_consent.yaml": (":5:1", "no question has role: consent (the resident agreeing to the interview): add one, "
                                "or set settings: consent: not_required"),
}


def validate(path: Path) -> Result:
    result = CliRunner().invoke(app, ["questionnaire", "validate", str(path)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_the_corpus_has_one_file_per_fault() -> None:
    broken = {p.name for p in CORPUS.iterdir() if p.suffix in (".yaml", ".xlsx")} - {"safety.xlsx"}
    assert broken == set(BROKEN)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_exits_2_with_the_located_problem(name: str) -> None:
    location, message = BROKEN[name]
    path = CORPUS / name
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert f"{path}{location}: {message}" in result.output


def test_every_problem_is_listed_not_just_the_first() -> None:
    result = validate(CORPUS / "wrong_types.yaml")
    assert "2 problem(s)" in result.output
    assert f"{CORPUS / 'wrong_types.yaml'}:16:5: question d_years max: expected a number, got 'ninety-nine'" \
        in result.output


MANY_FAULTS = """\
id: many
version: "1"
languages: [zh, en]
questions:
  - id: q_safety
    type: yesno
    type: single
    text: {zh: 安全吗？, en: Safe?}
  - id: q_years
    type: number
    text: {zh: 住了几年？, en: Years here?}
    max: lots
  - id: q_why
    type: single
    text: {zh: 为什么？}
    when: q_safety == 7
    choices:
      - {key: 1, code: 1, label: {zh: 一, en: One}}
      - {key: 1, code: 2, label: {zh: 二, en: Two}}
    choices: []
"""


def test_every_kind_of_problem_is_reported_in_one_run_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(MANY_FAULTS, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 2
    assert [line.strip() for line in result.output.splitlines()] == [
        f"{path}: 7 problem(s)",
        f"{path}:4:1: no question has role: consent (the resident agreeing to the interview): add one, or set "
        "settings: consent: not_required",
        f"{path}:7:5: duplicate key 'type' (first at line 6): keep one of them",
        f"{path}:12:5: question q_years max: expected a number, got 'lots'",
        f"{path}:15:5: question q_why: text has no 'en' text (declared in languages)",
        f"{path}:16:5: question q_why: condition 'q_safety == 7' tests 'q_safety' for 7, which is not one of its "
        "codes (1, 2)",
        f"{path}:19:10: question q_why: duplicate DTMF key 1 (choices #1 and #2)",
        f"{path}:20:5: duplicate key 'choices' (first at line 17): keep one of them",
    ]


def test_settings_can_waive_the_consent_question(tmp_path: Path) -> None:
    path = tmp_path / "recontact.yaml"
    path.write_text((CORPUS / "no_consent.yaml").read_text("utf-8") + "settings: {consent: not_required}\n", "utf-8")
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert "OK corpus v1 (zh): 1 questions (1 yesno)" in result.output


def test_a_workbook_without_consent_is_refused_unless_its_settings_waive_it(tmp_path: Path) -> None:
    sheets = copy.deepcopy(SHEETS)
    columns, rows = sheets["survey"]
    sheets["survey"] = (columns, [{k: v for k, v in row.items() if k != "role" or v != "consent"} for row in rows])
    path = write_xlsform(tmp_path / "form.xlsx", sheets)
    result = validate(path)
    assert result.exit_code == 2
    assert f"{path}:survey!A1: no question has role: consent" in result.output, result.output
    settings_columns, settings = sheets["settings"]
    sheets["settings"] = ([*settings_columns, "consent"], [{**settings[0], "consent": "not_required"}])
    assert validate(write_xlsform(tmp_path / "form2.xlsx", sheets)).exit_code == 0


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = validate(tmp_path / "nowhere.yaml")
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere.yaml'}: cannot read: No such file or directory" in result.output


def test_an_old_excel_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "form.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    result = validate(path)
    assert result.exit_code == 2
    assert "save it as .xlsx" in result.output


@pytest.mark.parametrize("path", [bundled_path(), CORPUS / "safety.xlsx"], ids=["yaml", "xlsform"])
def test_the_bundled_questionnaire_validates_with_a_summary(path: Path) -> None:
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert ("OK safety v2026.1 (zh/en): 17 questions (1 message, 1 multiple, 1 number, 1 open, 12 single, "
            "1 yesno); 2 with skip logic") in result.output


def test_every_command_of_the_cli_resolves() -> None:
    import inspect

    from minyi.cli import COMMANDS, _load

    for name in COMMANDS:
        assert inspect.isfunction(_load(name)), name
