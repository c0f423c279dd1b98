"""An index definitions file (``--indices``, the web's analysis inputs) costs what its text says:
YAML aliases that stand for billions of values are refused before anything walks them, and the
bulletin's names and headline hold text only."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.survey_inputs import read_indices
from survey.questionnaire.loader import load
from survey.surveys import SurveyError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _aliases(depth: int) -> str:
    """A flow list of nested aliases: 9 ** ``depth`` values in under 50 characters a level."""
    levels = ['&a0 "x"'] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth + 1)]
    return f"[{', '.join(levels)}]"


def _indices(tmp_path: Path, old: str, new: str) -> Path:
    text = (EXAMPLES / "indices.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "indices.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new"), [
    ("{zh: 群众安全感, en: Feeling of safety}", "{zh: 群众安全感, en: %s}"),  # a name, which was not checked
    ("scores: {1: 100,", "scores: {1: %s,"),  # a score, whose message quoted the value whole
])
def test_a_few_lines_of_aliases_for_millions_of_values_are_refused(tmp_path: Path, old: str, new: str) -> None:
    questionnaire = load(EXAMPLES / "questionnaire.yaml")
    bomb = _indices(tmp_path, old, new % _aliases(6))  # 531,441 values: 2 s and 240 MB before; depth 9, 70 GB
    assert bomb.stat().st_size < 2000
    with pytest.raises(SurveyError, match=r"indices\.yaml: more than 10000 values \(aliases used over and over\?\)"):
        read_indices(bomb, questionnaire)


@pytest.mark.parametrize(("old", "new"), [
    ("headline: [safety, service]", "headline: [safety, [service]]"),  # a TypeError (a 500 in the web app) before
    ("{zh: 群众安全感, en: Feeling of safety}", "{zh: 群众安全感, en: [Feeling, of, safety]}"),
])
def test_the_bulletins_names_and_headline_are_text(tmp_path: Path, old: str, new: str) -> None:
    with pytest.raises(SurveyError, match=r"(headline must list indices|names\.safety must name an index)"):
        read_indices(_indices(tmp_path, old, new), load(EXAMPLES / "questionnaire.yaml"))
