"""XLSForm import: the bundled questionnaire written as an XLSForm (questionnaires/safety_xlsform.py)
becomes the same questionnaire and the same interview; broken workbooks fail at the right cell."""

from __future__ import annotations

import copy
import itertools
import re
import zipfile
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from questionnaires.safety_xlsform import EN, SHEETS, write_xlsform
from sqlalchemy.orm import Session

from ivr.engine import Answered, Digits, Engine, Event, HangUp, RecordingDone, Timeout
from survey.clock import VirtualClock
from survey.models import Survey
from survey.questionnaire import Question, Questionnaire, QuestionnaireError, load_bundled, loads
from survey.questionnaire.conditions import parse_condition
from survey.questionnaire.model import MULTIPLE
from survey.questionnaire.xlsform import load_xlsform
from survey.questionnaire.xlsform_expr import (
    ExpressionError,
    Referent,
    translate_constraint,
    translate_relevant,
)
from survey.surveys import StratumSpec, create_survey, survey_questionnaire

COMMITTED = Path(__file__).parent / "questionnaires" / "safety.xlsx"
Sheets = dict[str, tuple[list[str], list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def bundled() -> Questionnaire:
    return load_bundled()


@pytest.fixture(scope="module")
def imported() -> Questionnaire:
    return load_xlsform(COMMITTED)


# -- the same questionnaire ----------------------------------------------------------------------


def _answer_space(q: Question) -> list[Any]:
    codes = sorted(q.codes)
    if q.type == MULTIPLE:
        subsets = itertools.chain.from_iterable(itertools.combinations(codes, n) for n in range(len(codes) + 1))
        return [None, *(list(s) for s in subsets)]
    return [None, *codes]


def _same_condition(questionnaire: Questionnaire, a: Question, b: Question) -> None:
    assert (a.when is None) == (b.when is None), a.id
    if a.when is None or b.when is None:
        return
    assert a.when.names == b.when.names
    names = sorted(a.when.names)
    spaces = [_answer_space(questionnaire.question(n)) for n in names]
    for values in itertools.product(*spaces):
        answers = dict(zip(names, values, strict=True))
        assert a.when.evaluate(answers) == b.when.evaluate(answers), (a.id, answers)


def test_the_workbook_holds_the_bundled_questions_codes_and_skip_logic(
        bundled: Questionnaire, imported: Questionnaire) -> None:
    assert [q.id for q in imported.questions] == [q.id for q in bundled.questions]
    for a, b in zip(bundled.questions, imported.questions, strict=True):
        assert replace(a, when=None) == replace(b, when=None)
        _same_condition(bundled, a, b)
    others = [f.name for f in fields(Questionnaire) if f.name not in ("questions", "source")]
    assert {n: getattr(imported, n) for n in others} == {n: getattr(bundled, n) for n in others}


def test_the_source_is_yaml_that_reloads_as_the_same_questionnaire(imported: Questionnaire) -> None:
    assert imported.source.startswith("# Converted by Minyi from an XLSForm workbook.\n")
    assert "&id0" not in imported.source  # shared choice lists are written out, not as YAML aliases
    assert loads(imported.source) == imported


def test_a_survey_created_from_the_workbook_reloads_the_same_questionnaire(
        session: Session, clock: VirtualClock, imported: Questionnaire) -> None:
    survey = create_survey(session, "2026-11", imported, clock, period="2026-11",
                           strata=[StratumSpec("t01", "城关镇")])
    session.commit()
    assert survey_questionnaire(session.get(Survey, survey.id)) == imported


def test_the_committed_workbook_matches_its_builder(tmp_path: Path, imported: Questionnaire) -> None:
    assert load_xlsform(write_xlsform(tmp_path / "renamed.xlsx")) == imported


def test_language_columns_may_be_plain_codes(tmp_path: Path, imported: Questionnaire) -> None:
    def plain_codes(sheets: Sheets) -> None:
        for title, (columns, rows) in sheets.items():
            renamed = {c: c.replace("Chinese (zh)", "zh").replace("English (en)", "en") for c in columns}
            sheets[title] = ([renamed[c] for c in columns], [{renamed[k]: v for k, v in r.items()} for r in rows])

    assert load_xlsform(_workbook(tmp_path, plain_codes)) == imported


def test_a_default_language_names_unsuffixed_columns(tmp_path: Path) -> None:
    sheets: Sheets = {
        "survey": (["type", "name", "label"], [{"type": "integer", "name": "n", "label": "几年？"}]),
        "settings": (["form_id", "version", "default_language"], [{"form_id": "mini", "version": 3,
                                                                   "default_language": "中文"}]),
    }
    path = write_xlsform(tmp_path / "mini.xlsx", sheets)
    with pytest.raises(QuestionnaireError) as caught:
        load_xlsform(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:survey!A2: question n: a number question needs min and max"]


# -- the same interview --------------------------------------------------------------------------


def _keys(*entries: str) -> list[Event]:
    return [Answered(), *(Digits(e) for e in entries)]


SCRIPTS: dict[str, tuple[list[Event], str]] = {
    "complete, every question": (_keys("1", "1", "1", "1", "4", "13#", "1", "2", "3", "6", "1", "2", "1")
                                 + [RecordingDone("/rec/1.wav", 12.0), Digits("2"), Digits("1"), Digits("12#")],
                                 "complete"),
    "complete in English, skips taken": (_keys("2", "1", "1", "1", "6", "4", "1", "1", "1", "1", "1", "2", "3",
                                               "2", "150#", "7#"), "complete"),
    "refusal": (_keys("1", "3"), "refused"),
    "opt-out": (_keys("1", "9"), "opted_out"),
    "call back tomorrow": (_keys("1", "2", "2"), "callback"),
    "screened out on age": (_keys("2", "1", "2"), "screened_out"),
    "screened out on residence": (_keys("1", "1", "1", "2"), "screened_out"),
    "bad keys, silence, repeat, operator": (_keys("1", "7") + [Timeout()] + [Digits(k) for k in "*110"],
                                            "operator"),
    "silence at consent: the call ends, the interview stays open": ([Answered(), *[Timeout()] * 6], "in_progress"),
    "keys one at a time, then hang up": (_keys("1", "1", "1", "1", "5")
                                         + [Digits(k, complete=False) for k in "25#"] + [HangUp()], "partial"),
}


def _run(questionnaire: Questionnaire, events: list[Event]) -> list[tuple[Any, ...]]:
    clock = VirtualClock(datetime(2026, 11, 2, 10, 30))
    engine = Engine(questionnaire, clock)
    trace = []
    for event in events:
        step = engine.handle(event)
        trace.append((event, step, tuple(engine.drain_effects()), engine.status))
        clock.advance(timedelta(seconds=3))
    return trace


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_both_formats_run_the_same_interview(script: str, bundled: Questionnaire, imported: Questionnaire) -> None:
    events, status = SCRIPTS[script]
    trace = _run(bundled, events)
    assert _run(imported, events) == trace
    assert trace[-1][3] == status


def test_the_complete_script_reaches_every_question(imported: Questionnaire) -> None:
    trace = _run(imported, SCRIPTS["complete, every question"][0])
    asked = {step.question_id for _, step, _, _ in trace if step.question_id}
    assert asked == {q.id for q in imported.questions if q.collects_answer}
    assert trace[-1][3] == "complete"


EVENTS = st.one_of(
    st.text("0123456789*#", min_size=1, max_size=3).map(Digits),
    st.sampled_from("0123456789*#").map(lambda k: Digits(k, complete=False)),
    st.just(Timeout()),
    st.builds(RecordingDone, st.sampled_from([None, "/rec/a.wav"]), st.sampled_from([0.0, 7.5])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENTS, max_size=40))
def test_random_callers_meet_the_same_interview(events: list[Event], bundled: Questionnaire,
                                                imported: Questionnaire) -> None:
    script = [Answered(), *events, HangUp()]
    assert _run(imported, script) == _run(bundled, script)


# -- broken workbooks ----------------------------------------------------------------------------


def _workbook(tmp_path: Path, edit: Callable[[Sheets], None], name: str = "form.xlsx") -> Path:
    sheets = copy.deepcopy(SHEETS)
    edit(sheets)
    return write_xlsform(tmp_path / name, sheets)


def _row(sheets: Sheets, title: str, **match: Any) -> dict[str, Any]:
    return next(r for r in sheets[title][1] if all(r.get(k) == v for k, v in match.items()))


def _problems(path: Path) -> list[str]:
    with pytest.raises(QuestionnaireError) as caught:
        load_xlsform(path)
    return [str(p) for p in caught.value.problems]


def _set(title: str, match: dict[str, Any], **values: Any) -> Callable[[Sheets], None]:
    return lambda sheets: _row(sheets, title, **match).update(values)


def _add_column(title: str, column: str, match: dict[str, Any], value: Any) -> Callable[[Sheets], None]:
    def edit(sheets: Sheets) -> None:
        sheets[title][0].append(column)
        _row(sheets, title, **match)[column] = value
    return edit


BROKEN_WORKBOOKS: dict[str, tuple[Callable[[Sheets], None], str]] = {
    "duplicate key in a list": (_set("choices", {"list_name": "trend", "name": "cant_say"}, key=3),
                                "choices!E{trend_cant_say}: question q_trend: duplicate DTMF key 3 (choices #3 and #4)"),
    "relevant names no choice": (_set("survey", {"name": "q_suggest"}, relevant="selected(${q_suggest_yn}, 'yes')"),
                                 "survey!E{q_suggest}: relevant \"selected(${{q_suggest_yn}}, 'yes')\": 'yes' is "
                                 "not a choice name of q_suggest_yn ('1', '2')"),
    "relevant on a later question": (_set("survey", {"name": "q_trend"}, relevant="${d_sex} = 1"),
                                     "survey!E{q_trend}: question q_trend: condition 'd_sex == 1' depends on "
                                     "question 'd_sex', which is not asked before it"),
    "relevant does not parse": (_set("survey", {"name": "q_trend"}, relevant="${q_safety} = = 1"),
                                "survey!E{q_trend}: relevant '${{q_safety}} = = 1': expected a value such as '1' but "
                                "found '='"),
    "unsupported type": (_set("survey", {"name": "d_years"}, type="decimal"),
                         "survey!A{d_years}: type 'decimal' is not supported on the phone"),
    "list missing": (_set("survey", {"name": "d_sex"}, type="select_one gender"),
                     "survey!A{d_sex}: choice list 'gender' is not in the choices sheet"),
    "missing English label": (_set("survey", {"name": "d_sex"}, **{EN: None}),
                              "survey!D{d_sex}: question d_sex: text has no 'en' text (declared in languages)"),
    "choice without key": (_set("choices", {"list_name": "sat", "name": 8}, key=None, name="dk"),
                           "choices!B{sat_8}: choice 'dk' needs a key: its name is not a phone key 1-9"),
    "key out of range": (_set("choices", {"list_name": "sex", "name": 2}, key=12),
                         "choices!E{sex_2}: question d_sex choices #2 key: 12 is above the maximum 9"),
    "unknown end": (_set("choices", {"list_name": "consent", "name": 3}, end="refuse"),
                    "choices!G{consent_3}: question consent choices #3 end: 'refuse' is not one of: refused"),
    "unsupported constraint": (_set("survey", {"name": "d_years"}, constraint="regex(., '^[0-9]+$')"),
                               "survey!F{d_years}: constraint \"regex(., '^[0-9]+$')\": cannot use"),
    "bad parameter": (_set("survey", {"name": "q_suggest"}, parameters="max_seconds=60 randomize=true"),
                      "survey!G{q_suggest}: parameter 'randomize=true' is not one of"),
    "unsupported language": (_add_column("survey", "label::French (fr)", {"name": "d_sex"}, "Sexe"),
                             "survey!O1: column 'label::French (fr)': language 'French (fr)' is not zh or en"),
    "unknown column": (_add_column("survey", "calculation", {"name": "d_sex"}, "1 + 1"),
                       "survey!O1: column 'calculation' is not supported"),
    "unclosed group": (lambda sheets: sheets["survey"][1].remove({"type": "end group"}),
                       "survey!A{unsafe}: begin group without end group"),
    "duplicate name": (_set("survey", {"name": "q_court"}, name="q_police"),
                       "survey!B{q_court}: question q_police: id already used by question #8"),
    "bad version": (_set("settings", {"form_id": "safety"}, version=None),
                    "settings!A2: missing required key version"),
}


def _cells(sheets: Sheets) -> dict[str, int]:
    """Row numbers by question name, group name and ``list_name`` of choices (``sat_8``)."""
    rows = {r["name"]: i + 2 for i, r in enumerate(sheets["survey"][1]) if r.get("name")}
    rows.update({f"{r['list_name']}_{r['name']}": i + 2 for i, r in enumerate(sheets["choices"][1])})
    return rows


@pytest.mark.parametrize("fault", sorted(BROKEN_WORKBOOKS))
def test_a_broken_workbook_fails_at_the_cell(fault: str, tmp_path: Path) -> None:
    edit, expected = BROKEN_WORKBOOKS[fault]
    path = _workbook(tmp_path, edit)
    message = f"{path}:{expected.format(**_cells(SHEETS))}"
    assert any(p.startswith(message) for p in _problems(path)), (message, _problems(path))


def test_a_workbook_without_a_survey_sheet(tmp_path: Path) -> None:
    path = write_xlsform(tmp_path / "form.xlsx", {"choices": SHEETS["choices"]})
    assert _problems(path) == [f"{path}: no 'survey' sheet (sheets: 'choices')"]


def test_a_label_without_a_language(tmp_path: Path) -> None:
    sheets: Sheets = {"survey": (["type", "name", "label"], [{"type": "note", "name": "hi", "label": "您好"}])}
    path = write_xlsform(tmp_path / "form.xlsx", sheets)
    assert _problems(path) == [f"{path}:survey!C1: column 'label' needs a language: label::Chinese (zh) or "
                               "label::English (en), or default_language in the settings sheet"]


def test_problems_in_several_rows_are_all_reported(tmp_path: Path) -> None:
    def two_faults(sheets: Sheets) -> None:
        _row(sheets, "survey", name="d_sex")["type"] = "decimal"
        _row(sheets, "survey", name="d_age")["type"] = "geopoint"

    problems = _problems(_workbook(tmp_path, two_faults))
    assert len(problems) == 2


# -- expressions ---------------------------------------------------------------------------------

REFERENTS = {"sat": Referent("single", {"1": 1, "2": 2, "dk": 8}), "num": Referent("single", {"1": 1, "2": 2}),
             "worries": Referent("multiple", {"1": 1, "2": 2}), "yn": Referent("yesno"), "years": Referent("number")}


@pytest.mark.parametrize(("relevant", "condition"), [
    ("${sat} = '2'", "sat == 2"),
    ("${sat} = 'dk' or ${sat}='1'", "sat == 8 or sat == 1"),
    ("selected(${worries}, '2') and not(selected(${sat}, 'dk'))", "2 in worries and not (sat == 8)"),
    ("${years} >= 5 and (${yn} = 1 or ${num} > 1)", "years >= 5 and (yn == 1 or num > 1)"),
    ("10 > ${years}", "years < 10"),
    ("${sat} != ''", "answered(sat)"),
    ("${years} = ''", "not answered(years)"),
    ("${years} = ${num}", "years == num"),
    ("${later} = 'x'", "later == 'x'"),
    ("  ${yn}  =  \"2\"  AND ${num} = 2 ", "yn == 2 and num == 2"),
])
def test_relevant_becomes_a_condition(relevant: str, condition: str) -> None:
    assert translate_relevant(relevant, REFERENTS) == condition
    parse_condition(condition)


@pytest.mark.parametrize(("relevant", "error"), [
    ("${sat} > 1", "> compares choice names, but sat's names are not its codes: use = or !="),
    ("${worries} = '1'", "use selected(${worries}, 'name') to test the select_multiple question worries"),
    ("${sat} = 'x'", "'x' is not a choice name of sat ('1', '2', 'dk')"),
    ("selected(${years}, '1')", "selected() needs a select question, and years is not one"),
    ("${years} > 'ten'", "years is a number question; 'ten' is not a number"),
    ("${two words} = 1", "${two words} does not name a question"),
    ("${sat} = 1 ${num}", "unexpected '${num}' after 'sat == 1'"),
    ("${sat}", "expected a comparison (=, !=, <, <=, >, >=) but found 'the end'"),
    ("1 = 1", "comparison 1 = 1 names no question"),
    ("count-selected(${worries}) > 1", "'count-selected' is not understood: write questions as ${name}"),
    ("${sat} = yes", "'yes' is not understood"),
    ("${sat} = 1 & ${num} = 2", "cannot read '& ${num} = 2' at character 12"),
    ("", "the expression is empty"),
])
def test_relevant_outside_the_subset_is_explained(relevant: str, error: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(error)):
        translate_relevant(relevant, REFERENTS)


@pytest.mark.parametrize(("constraint", "bounds"), [
    (". >= 0 and . <= 99", {"min": 0, "max": 99}), ("0 <= . and . < 100", {"min": 0, "max": 99}),
    (". > 17", {"min": 18}), (". = 3", {"min": 3, "max": 3}), (". <= 2.5", {"max": 2.5}),
])
def test_constraint_becomes_a_range(constraint: str, bounds: dict[str, float]) -> None:
    assert translate_constraint(constraint) == bounds


@pytest.mark.parametrize(("constraint", "error"), [
    (". >= 1 or . <= 3", "write the range as '. >= MIN and . <= MAX'"),
    (". >= 1 and . >= 2", "sets min twice"), (". > 1.5", "use <= or >= with a decimal bound"),
    (". != 4", "a range has no holes"), ("string-length(.) < 3", "write the range as"),
])
def test_constraint_outside_the_subset_is_explained(constraint: str, error: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(error)):
        translate_constraint(constraint)


def test_a_damaged_sheet_inside_a_workbook(tmp_path: Path) -> None:
    """Read-only openpyxl parses a sheet only while iterating it: a bad cell shows up late."""
    good = write_xlsform(tmp_path / "good.xlsx")
    damaged = tmp_path / "damaged.xlsx"
    sheet = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             b'<row r="1"><c r="A1" t="n"><v>abc</v></c></row></sheetData></worksheet>')
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            target.writestr(item, sheet if item.filename.endswith("sheet1.xml") else source.read(item))
    (problem,) = _problems(damaged)
    assert problem.startswith(f"{damaged}: not an Excel .xlsx workbook (ValueError")


def test_a_workbook_larger_than_any_questionnaire_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Sample frames may expand to 256 MiB of XML; a questionnaire has no need of that much, and
    openpyxl builds every cell of a row in memory (an 8 MiB upload of one 5,000,000-cell row took
    over 3.5 GB). Here 5 MiB of XML, stored, not deflated: no zip bomb by its ratio."""
    good = write_xlsform(tmp_path / "good.xlsx")
    wide = tmp_path / "wide.xlsx"
    sheet = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row>'
             + b"<c><v>1</v></c>" * (5 * 2**20 // 15) + b"</row></sheetData></worksheet>")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(wide, "w", zipfile.ZIP_STORED) as target:
        for item in source.infolist():
            target.writestr(item.filename, sheet if item.filename.endswith("sheet1.xml") else source.read(item))
    (problem,) = _problems(wide)
    assert "the workbook expands to 5 MiB, more than the 4 MiB allowed" in problem
