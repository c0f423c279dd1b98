"""Load and validate a questionnaire: YAML → JSON Schema → semantic checks → model.

Every problem is collected (not just the first) with its location: ``line:column`` for the
structure, and the question id for meaning, so a supervisor can fix a file in one pass.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from survey.questionnaire import model as m
from survey.questionnaire.checks import semantic_problems
from survey.questionnaire.conditions import parse_condition


@dataclass(frozen=True)
class Problem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class QuestionnaireError(ValueError):
    """A questionnaire that does not validate; ``problems`` lists every fault found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@cache
def schema() -> dict[str, Any]:
    text = resources.files("survey.questionnaire").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def load(path: str | Path) -> m.Questionnaire:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise QuestionnaireError([Problem(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise QuestionnaireError([Problem(str(path), f"cannot read: {exc.strerror}")]) from None
    return loads(text, name=str(path))


def loads(text: str, name: str = "<questionnaire>") -> m.Questionnaire:
    data = _parse_yaml(text, name)
    problems = _schema_problems(data, name)
    if not problems:
        problems = [Problem(f"{name}: {loc}", msg) for loc, msg in semantic_problems(data)]
    if problems:
        raise QuestionnaireError(problems)
    return build(data, text)


def _parse_yaml(text: str, name: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise QuestionnaireError([Problem(where, f"YAML: {exc.problem or exc.context}")]) from None
    except Exception as exc:  # ruamel raises several unrelated types for bad input
        raise QuestionnaireError([Problem(name, f"YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise QuestionnaireError([Problem(name, "the file must be a mapping with id, version, languages, questions")])
    return data


def _schema_problems(data: Any, name: str) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in sorted(validator.iter_errors(_plain(data)), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        problems.append(Problem(_locate(data, path, name), _describe(error, data)))
    return problems


def _describe(error: jsonschema.ValidationError, data: Any) -> str:
    where = _question_context(data, list(error.absolute_path))
    if error.validator == "additionalProperties":
        return f"{where}unknown key(s): {error.message.split('(')[-1].rstrip(')')}"
    return f"{where}{error.message}"


def _question_context(data: Any, path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "questions" and isinstance(path[1], int):
        try:
            return f"question {data['questions'][path[1]].get('id', '#' + str(path[1] + 1))}: "
        except (IndexError, AttributeError, KeyError):
            return ""
    return ""


def _locate(data: Any, path: list[Any], name: str) -> str:
    """``name:line:col`` of the deepest node on ``path`` that ruamel kept a position for."""
    node, line, col = data, None, None
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None:
                pos = lc.key(key) if isinstance(node, dict) else lc.item(key)
                line, col = pos[0], pos[1]
            node = node[key]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    if line is None and getattr(data, "lc", None) is not None:
        line, col = data.lc.line, data.lc.col
    return f"{name}:{line + 1}:{col + 1}" if line is not None else name


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def build(data: Any, source: str = "") -> m.Questionnaire:
    """The model from already validated data."""
    data = _plain(data)
    settings = m.Settings(**data.get("settings", {}))
    questions = tuple(_question(q, data["languages"]) for q in data["questions"])
    return m.Questionnaire(
        id=data["id"], version=str(data["version"]), languages=tuple(data["languages"]),
        questions=questions, title=data.get("title", {}), settings=settings,
        messages=data.get("messages", {}), source=source,
    )


def _question(q: dict[str, Any], languages: list[str]) -> m.Question:
    choices = tuple(m.Choice(**c) for c in q.get("choices", ())) or _default_choices(q["type"])
    kwargs = {k: q[k] for k in ("reprompt", "label", "min", "max", "max_digits", "max_seconds",
                                "max_choices", "min_seconds", "role") if k in q}
    when = parse_condition(q["when"]) if "when" in q else None
    return m.Question(id=q["id"], type=q["type"], text=q["text"], when=when, choices=choices, **kwargs)


def _default_choices(qtype: str) -> tuple[m.Choice, ...]:
    if qtype != m.YESNO:
        return ()
    return (m.Choice(1, 1, {"zh": "是", "en": "Yes"}), m.Choice(2, 2, {"zh": "否", "en": "No"}))


def checksum(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def bundled_path() -> Path:
    """The questionnaire that ships with Minyi (public safety and law-enforcement satisfaction)."""
    return Path(str(resources.files("survey.questionnaire").joinpath("bundled/safety.yaml")))


def load_bundled() -> m.Questionnaire:
    return load(bundled_path())
