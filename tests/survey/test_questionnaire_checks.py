"""The YAML loader, the semantic checks and skip-logic conditions, case by case."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from survey.questionnaire import QuestionnaireError, load, load_bundled, loads
from survey.questionnaire.conditions import ConditionError, parse_condition


def _question(qid: str, qtype: str = "single", **fields: Any) -> dict[str, Any]:
    q: dict[str, Any] = {"id": qid, "type": qtype, "text": {"zh": "问题"}}
    if qtype in ("single", "multiple") and "choices" not in fields:
        q["choices"] = [{"key": k, "code": k, "label": {"zh": f"选项{k}"}} for k in (1, 2)]
    return {**q, **fields}


def _yaml(*questions: dict[str, Any], **top: Any) -> str:
    data = {"id": "t", "version": "1", "languages": ["zh"], **top, "questions": list(questions)}
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, stream)
    return stream.getvalue()


def _messages(text: str) -> list[str]:
    with pytest.raises(QuestionnaireError) as caught:
        loads(text, name="t.yaml")
    return [p.message for p in caught.value.problems]


# -- semantic checks -----------------------------------------------------------------------------

NUMBER = {"min": 0, "max": 99}
FAULTS: dict[str, tuple[list[dict[str, Any]], dict[str, Any], str]] = {
    "field for another type": ([_question("q1", max_digits=2)], {},
                               "question q1: max_digits applies only to number questions, not single"),
    "operator key as a choice": ([_question("q1")], {"settings": {"operator_key": "2"}},
                                 "question q1: key 2 is the operator key and cannot be a choice"),
    "too many choices allowed": ([_question("q1", "multiple", max_choices=3)], {},
                                 "question q1: max_choices 3 exceeds the 2 choices"),
    "choices missing": ([_question("q1", choices=[])], {}, "question q1 choices: needs at least 1 item(s)"),
    "choices on a number": ([_question("q1", "number", **NUMBER, choices=[{"key": 1, "code": 1, "label": {"zh": "x"}}])],
                            {}, "question q1: a number question takes no choices"),
    "multiple answer ends": ([_question("q1", "multiple", choices=[
        {"key": 1, "code": 1, "label": {"zh": "x"}, "end": "refused"}])], {},
        "question q1: a multiple-choice answer cannot end (choice key 1)"),
    "duplicate code": ([_question("q1", choices=[{"key": 1, "code": 1, "label": {"zh": "x"}},
                                                 {"key": 2, "code": 1, "label": {"zh": "y"}}])], {},
                       "question q1: duplicate code 1 (choices #1 and #2)"),
    "skip and end": ([_question("q1", choices=[{"key": 1, "code": 1, "label": {"zh": "x"}, "end": "refused",
                                                "goto": "q2"}]), _question("q2", "yesno")], {},
                     "question q1: choice key 1 both ends the interview and skips"),
    "too few digits": ([_question("q1", "number", min=0, max=120, max_digits=2)], {},
                       "question q1: max 120 needs more than max_digits 2 digits"),
    "range upside down": ([_question("q1", "number", min=10, max=5)], {}, "question q1: min 10 is greater than max 5"),
    "negative range": ([_question("q1", "number", min=-5, max=5)], {},
                       "question q1: min -5 is below 0: a phone keypad cannot enter a minus sign"),
    "infinite range": ([_question("q1", "number", min=0, max=float("inf"))], {},
                       "question q1: max must be a finite number, not inf"),
    "recording bounds": ([_question("q1", "open", min_seconds=90, max_seconds=60)], {},
                         "question q1: min_seconds 90 exceeds max_seconds 60"),
    "condition on a message": ([_question("q1", "message"), _question("q2", "yesno", when="answered(q1)")], {},
                               "question q2: condition 'answered(q1)' depends on 'q1', a message, which has no "
                               "answer skip logic can test"),
    "condition on a recording": ([_question("q1", "open"), _question("q2", "yesno", when="answered(q1)")], {},
                                 "question q2: condition 'answered(q1)' depends on 'q1', a voice recording"),
    "condition on itself": ([_question("q1", when="q1 == 1")], {},
                            "question q1: condition 'q1 == 1' depends on question 'q1', which is not asked before it"),
    "condition on an unknown question": ([_question("q1", when="q9 == 1")], {},
                                         "question q1: condition 'q9 == 1' names unknown question 'q9'"),
    "yes/no compared with 3": ([_question("q1", "yesno"), _question("q2", "yesno", when="q1 == 3")], {},
                               "question q2: condition 'q1 == 3' tests 'q1' for 3, which is not one of its codes (1, 2)"),
    "number compared with text": ([_question("q1", "number", **NUMBER), _question("q2", "yesno", when="q1 > 'ten'")],
                                  {}, "question q2: condition \"q1 > 'ten'\" compares number question 'q1' with 'ten'"),
    "call in a condition": ([_question("q1", "yesno"), _question("q2", "yesno", when="len(q1) > 1")], {},
                            "question q2: only answered(question) may be called in 'len(q1) > 1'"),
    "title without a declared language": ([_question("q1", "yesno")], {"languages": ["zh", "en"],
                                          "title": {"zh": "标题"}, }, "title has no 'en' text (declared in languages)"),
    "unknown message": ([_question("q1", "yesno")], {"messages": {"goodbye": {"zh": "再见"}}},
                        "unknown message 'goodbye' (known: "),
    "two consents": ([_question("q1", role="consent"), _question("q2", role="consent")], {},
                     "question q2: a second consent question; at most one"),
    "role on an open question": ([_question("q1", "open", role="screening")], {},
                                 "question q1: role applies only to single and yesno questions, not open"),
    "id with a trailing newline": ([_question("q1\n", "yesno")], {}, "question q1\n id: 'q1\\n' does not follow a "
                                                                     "letter, then letters, digits or _"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_semantic_fault_is_named(fault: str) -> None:
    questions, top, message = FAULTS[fault]
    messages = _messages(_yaml(*questions, **top))
    assert any(m.startswith(message) for m in messages), messages


def test_semantic_problems_point_at_their_line() -> None:
    text = _yaml(_question("q1", "yesno"), _question("q2", "yesno", when="q1 == 3"))
    with pytest.raises(QuestionnaireError) as caught:
        loads(text, name="t.yaml")
    (problem,) = caught.value.problems
    line = text.splitlines().index("  when: q1 == 3") + 1
    assert problem.location == f"t.yaml:{line}:3"


def test_the_summary_counts_skips_by_goto_as_skip_logic_too() -> None:
    """A question whose answer skips ahead (``goto``) has skip logic as much as one asked ``when``."""
    skip = [{"key": 1, "code": 1, "label": {"zh": "是"}}, {"key": 2, "code": 2, "label": {"zh": "否"}, "goto": "q4"}]
    questionnaire = loads(_yaml(_question("q1", choices=skip), _question("q2", "yesno"),
                                _question("q3", "yesno", when="q2 == 1"), _question("q4", "yesno")), name="t.yaml")
    assert questionnaire.summary()["with_skip_logic"] == 2


def test_the_bundled_questionnaire_validates() -> None:
    summary = load_bundled().summary()
    assert summary["questions"] == 17 and summary["with_skip_logic"] == 2


# -- YAML edge cases -----------------------------------------------------------------------------


def test_aliases_cannot_blow_up() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    started = time.monotonic()
    messages = _messages("\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert messages == ["more than 100000 values: not a questionnaire (repeated aliases?)"]


def test_deep_nesting_is_refused() -> None:
    assert _messages("id: " + "[" * 60 + "]" * 60 + "\n") == [
        "nesting deeper than 32: not a questionnaire (repeated aliases?)"]


@pytest.mark.parametrize("value", ["!!set {a, b}", "!custom x", "!!binary aGVsbG8="])
def test_unusual_yaml_values_are_refused(value: str) -> None:
    messages = _messages(f"id: t\nversion: {value}\n")
    assert messages[0].startswith("unsupported YAML value")


def test_a_date_version_is_read_as_text() -> None:
    text = _yaml(_question("q1", "yesno")).replace("version: '1'", "version: 2026-11-01")
    assert loads(text).version == "2026-11-01"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + _yaml(_question("q1", "yesno")).encode("utf-8"))
    assert load(path).id == "t"


def test_a_comment_only_file() -> None:
    assert _messages("# nothing yet\n") == ["the file holds only comments: no questionnaire"]


def test_every_schema_problem_is_listed() -> None:
    messages = _messages("id: 3\nversion: [1]\nlanguages: zh\nquestions: {}\n")
    assert messages == ["id: expected text, got 3", "version: expected text or a whole number, got [1]",
                        "languages: expected a list, got 'zh'", "questions: expected a list, got {}"]


def test_the_source_is_kept_for_storage() -> None:
    text = _yaml(_question("q1", "yesno"))
    assert loads(text).source == text
    assert loads(text) == loads(text)


# -- conditions ----------------------------------------------------------------------------------

ANSWERS = {"single": 4, "multiple": [1, 3], "number": 12.0, "skipped": None}


@pytest.mark.parametrize(("source", "expected"), [
    ("single in [4, 5]", True), ("single == 4 and number >= 10", True), ("3 in multiple", True),
    ("2 not in multiple", True), ("skipped == 1", False), ("skipped != 1", False), ("not answered(skipped)", True),
    ("answered(single)", True), ("single > 'x'", False), ("1 < single < 5", True), ("never == 1", False),
    ("single == 1 or (number > 5 and not 2 in multiple)", True),
])
def test_conditions_evaluate(source: str, expected: bool) -> None:
    assert parse_condition(source).evaluate(ANSWERS) is expected


@pytest.mark.parametrize("source", ["q1 =", "q1 == True", "q1.real > 1", "-q1 > 1", "q1 + 1 > 2", "__import__('os')",
                                    "q1 if q2 else q3", "q1 == 1\x00", "not " * 2000 + "q1", "lambda: 1"])
def test_conditions_outside_the_subset_are_refused(source: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(source)


def test_conditions_list_the_values_they_test() -> None:
    condition = parse_condition("q1 in [4, 5] or 3 in q2 or q3 == q4 or q5 > 'x'")
    assert sorted(condition.literals()) == [("q1", 4), ("q1", 5), ("q2", 3), ("q5", "x")]
    assert condition.names == {"q1", "q2", "q3", "q4", "q5"}
