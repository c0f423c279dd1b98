"""Properties over random and mutated questionnaires: loading one either succeeds or raises
QuestionnaireError with located problems, never anything else."""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from questionnaires.safety_xlsform import SHEETS, write_xlsform
from ruamel.yaml import YAML

from survey.questionnaire import Questionnaire, QuestionnaireError, bundled_path, load, loads
from survey.questionnaire.xlsform import load_xlsform

BUNDLED_TEXT = bundled_path().read_text("utf-8")
BUNDLED_LINES = BUNDLED_TEXT.splitlines(keepends=True)
BUNDLED_DATA: dict[str, Any] = YAML(typ="safe").load(BUNDLED_TEXT)
QUESTION_IDS = [q["id"] for q in BUNDLED_DATA["questions"]]
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _loads_or_fails_cleanly(text: str) -> Questionnaire | None:
    try:
        return loads(text, name="fuzz.yaml")
    except QuestionnaireError as exc:
        assert exc.problems
        assert all(p.location.startswith("fuzz.yaml") and p.message for p in exc.problems)
        return None


# -- text ----------------------------------------------------------------------------------------

YAMLISH = st.sampled_from(["\n", ": ", "- ", "{", "}", "[", "]", "'", '"', "#", "&a ", "*a", "!!set ", "? ",
                           "|", ">", "\t", "---\n", "...\n", "%YAML 1.1\n", "\ufeff", "\x00", "when: ", "key: "])


@FUZZ
@given(st.text(max_size=300) | st.lists(YAMLISH | st.text(max_size=5), max_size=40).map("".join))
def test_random_text(text: str) -> None:
    _loads_or_fails_cleanly(text)


@st.composite
def mutated_bundled_text(draw: st.DrawFn) -> str:
    lines = list(BUNDLED_LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "insert", "replace_char"]))
        if operation == "delete":
            del lines[i]
        elif operation == "duplicate":
            lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
        elif operation == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "      "])) + lines[i].lstrip(" ")
        elif operation == "insert":
            lines.insert(i, draw(YAMLISH | st.text(max_size=12)))
        elif lines[i]:
            at = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:at] + draw(YAMLISH | st.characters()) + lines[i][at + 1:]
        if not lines:
            break
    return "".join(lines)


@pytest.mark.slow
@FUZZ
@given(mutated_bundled_text())
def test_mutated_bundled_text(text: str) -> None:
    _loads_or_fails_cleanly(text)


# -- structure: small generated questionnaires, valid YAML of roughly the right shape, so that the
# schema and every semantic check run on odd but well-typed data -------------------------------------

IDS = ["q1", "q2", "q3", "q4"]


def mostly(usual: st.SearchStrategy[Any], *odd: Any) -> st.SearchStrategy[Any]:
    """``usual`` 15 times in 16, else one of the ``odd`` values: most data passes the schema, so the
    semantic checks run, and some does not, so the schema messages are made too."""
    return st.sampled_from(range(16)).flatmap(lambda n: st.sampled_from(odd) if n == 15 else usual)


NUMBERS = st.integers(-2, 120) | st.sampled_from([math.inf, -math.inf, math.nan, 1e300, 0.5])
TEXTS = mostly(st.sampled_from([{"zh": "问题", "en": "Question"}, {"zh": "问题"}]), {}, {"zh": ""}, {"fr": "x"})
CONDITIONS = st.builds(
    "{} {} {}".format, st.sampled_from([*IDS, "nobody", "answered(q1)", "3"]),
    st.sampled_from(["==", "!=", "<", ">=", "in", "not in", "=", "and", "or not"]),
    st.sampled_from(["1", "2", "8", "[1, 2]", "'x'", "q2", "", "answered(q3)", "(", "-1", "1.5"]))
CHOICES = st.fixed_dictionaries(
    {"key": mostly(st.integers(1, 9), 0, 10, "1"), "code": st.integers(-1, 10), "label": TEXTS},
    optional={"end": mostly(st.sampled_from(["refused", "screened_out", "opted_out", "callback"]), "gone"),
              "goto": st.sampled_from([*IDS, "nowhere"]), "missing": mostly(st.booleans(), "yes")})
QUESTIONS = st.fixed_dictionaries(
    {"id": st.sampled_from(IDS), "type": st.sampled_from(["single", "multiple", "number", "yesno", "open", "message"]),
     "text": TEXTS},
    optional={"when": CONDITIONS, "choices": st.lists(CHOICES, max_size=3), "min": NUMBERS, "max": NUMBERS,
              "max_digits": mostly(st.integers(1, 12), 0, 13), "max_choices": st.integers(1, 9),
              "max_seconds": mostly(st.integers(5, 300), 0, 400), "min_seconds": mostly(st.integers(0, 400), -1),
              "role": mostly(st.sampled_from(["consent", "screening", "weighting"]), "boss"),
              "reprompt": TEXTS, "label": TEXTS})
QUESTIONNAIRES = st.fixed_dictionaries(
    {"id": st.just("fuzz"), "version": mostly(st.sampled_from(["1", 2]), ""),
     "languages": mostly(st.sampled_from([["zh"], ["zh", "en"], ["en", "zh"]]), ["zh", "zh"], ["fr"]),
     "questions": st.lists(QUESTIONS, min_size=1, max_size=4)},
    optional={"title": TEXTS, "settings": st.fixed_dictionaries({}, optional={
        "operator_key": st.sampled_from(["0", "1", "x"]), "max_reprompts": st.integers(-1, 6)}),
        "messages": st.dictionaries(st.sampled_from(["invalid", "timeout", "nonsense"]), TEXTS, max_size=2)})


def _yaml(data: dict[str, Any]) -> str:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, stream)
    return stream.getvalue()


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(QUESTIONNAIRES)
def test_generated_questionnaires(data: dict[str, Any]) -> None:
    questionnaire = _loads_or_fails_cleanly(_yaml(data))
    if questionnaire is not None:
        for i, q in enumerate(questionnaire.questions):
            assert q.min is None or math.isfinite(q.min)
            assert q.when is None or q.when.names <= {earlier.id for earlier in questionnaire.questions[:i]}


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_in_a_file(tmp_path_factory: Any, content: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "q.yaml"
    path.write_bytes(content)
    try:
        load(path)
    except QuestionnaireError as exc:
        assert all(p.location.startswith(str(path)) for p in exc.problems)


# -- XLSForm -------------------------------------------------------------------------------------

CELLS = st.one_of(st.none(), st.integers(-2, 12), st.floats(allow_nan=False, allow_infinity=False),
                  st.booleans(), st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=12),
                  st.sampled_from(["select_one sat", "select_multiple worries", "yesno", "integer", "note", "text",
                                   "begin group", "end group", "${q_safety} = 4", "selected(${q_worries}, '2')",
                                   ". >= 1 and . <= 5", "max_digits=2", "refused", "yes", *QUESTION_IDS]))
CELL_PATHS = [(title, row, column) for title, (columns, rows) in SHEETS.items()
              for row in range(len(rows)) for column in columns]


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(edits=st.lists(st.tuples(st.sampled_from(CELL_PATHS), CELLS), min_size=1, max_size=4))
def test_mutated_xlsform(tmp_path_factory: Any, edits: list[tuple[tuple[str, int, str], Any]]) -> None:
    sheets = copy.deepcopy(SHEETS)
    for (title, row, column), value in edits:
        sheets[title][1][row][column] = value
    path = write_xlsform(Path(tmp_path_factory.mktemp("xlsform")) / "form.xlsx", sheets)
    try:
        questionnaire = load_xlsform(path)
    except QuestionnaireError as exc:
        assert all(p.location.startswith(str(path)) and p.message for p in exc.problems)
        return
    assert loads(questionnaire.source) == questionnaire
