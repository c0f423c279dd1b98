"""Load and validate a questionnaire: YAML → JSON Schema → semantic checks → model.

Every problem is collected (not just the first) with its location: ``line:column`` for YAML (the
XLSForm importer supplies cell references instead), and messages about a question name its id,
so a supervisor can fix a file in one pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from survey.questionnaire import model as m
from survey.questionnaire.checks import KeyPath, semantic_problems
from survey.questionnaire.conditions import parse_condition
from survey.questionnaire.schema_messages import describe

Locate = Callable[[KeyPath], str]

MAX_DEPTH = 32
MAX_VALUES = 100_000


@dataclass(frozen=True)
class Problem:
    """One fault: where (``file:line:col``, ``file.xlsx:survey!B7``) and what."""

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


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def load(path: str | Path) -> m.Questionnaire:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise QuestionnaireError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        problem = Problem(f"{path}:{line}", f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8")
        raise QuestionnaireError([problem]) from None
    return loads(text, name=str(path))


def loads(text: str, name: str = "<questionnaire>") -> m.Questionnaire:
    """The questionnaire in YAML ``text``; ``name`` (the file) prefixes every problem's location."""
    doc = _parse_yaml(text, name)

    def locate(path: KeyPath) -> str:
        return _locate(doc, path, name)

    data = plain(doc, locate)
    problems = check(data, locate)
    if problems:
        raise QuestionnaireError(problems)
    return build(data, text)


def check(data: dict[str, Any], locate: Locate) -> list[Problem]:
    """Every problem in questionnaire data (plain dicts and lists): the schema first, then, once
    the structure holds, the meaning. ``locate`` turns a key path into the format's location."""
    problems = [Problem(locate(path), message)
                for error in _validator().iter_errors(data) for path, message in describe(error, data)]
    if not problems:
        problems = [Problem(locate(path), message) for path, message in semantic_problems(data)]
    return list(dict.fromkeys(problems))


def _parse_yaml(text: str, name: str) -> dict[Any, Any]:
    if not text.strip():
        raise QuestionnaireError([Problem(name, "the file is empty")])
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise QuestionnaireError([_yaml_problem(exc, name)]) from None
    except Exception as exc:  # ruamel raises several unrelated types (and RecursionError) for bad input
        raise QuestionnaireError([Problem(name, f"YAML: {exc}")]) from None
    if data is None:
        raise QuestionnaireError([Problem(name, "the file holds only comments: no questionnaire")])
    if not isinstance(data, dict):
        raise QuestionnaireError([Problem(f"{name}:1:1", "the file must be a mapping with id, version, "
                                                         f"languages and questions, not {_kind(data)}")])
    return data


def _yaml_problem(exc: MarkedYAMLError, name: str) -> Problem:
    """Where the parser stopped, and what it was parsing and from which line."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    message = exc.problem or exc.context or "cannot parse"
    context = exc.context_mark
    if exc.problem and exc.context and context is not None and context is not mark:
        message += f" ({exc.context} started at line {context.line + 1})"
    return Problem(where, f"YAML: {message}")


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"the single value {value!r:.40}"


def plain(doc: dict[Any, Any], locate: Locate) -> dict[str, Any]:
    """``doc`` as plain dicts, lists and scalars with string keys; dates become ISO text.

    Refuses data nested more than :data:`MAX_DEPTH` deep or with more than :data:`MAX_VALUES`
    values (YAML aliases can make a small file expand enormously)."""
    count = [0]

    def convert(node: Any, path: KeyPath) -> Any:
        count[0] += 1
        if count[0] > MAX_VALUES or len(path) > MAX_DEPTH:
            what = f"more than {MAX_VALUES} values" if count[0] > MAX_VALUES else f"nesting deeper than {MAX_DEPTH}"
            raise QuestionnaireError([Problem(locate(path), f"{what}: not a questionnaire (repeated aliases?)")])
        if isinstance(node, dict):
            return {str(k): convert(v, (*path, str(k))) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v, (*path, i)) for i, v in enumerate(node)]
        if isinstance(node, date):
            return node.isoformat()
        if node is None or isinstance(node, str | int | float):
            return node
        raise QuestionnaireError([Problem(locate(path), f"unsupported YAML value {type(node).__name__} "
                                                        "(a tag or a set?): use plain text, numbers and lists")])

    return convert(doc, ())  # type: ignore[no-any-return]


def _locate(doc: Any, path: KeyPath, name: str) -> str:
    """``name:line:col`` of the deepest node on ``path`` that ruamel kept a position for."""
    node: Any = doc
    line, col = 0, 0
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None:
                line, col = lc.key(key) if isinstance(node, dict) else lc.item(key)
            node = node[key]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return f"{name}:{line + 1}:{col + 1}"


def build(data: dict[str, Any], source: str = "") -> m.Questionnaire:
    """The model from validated data (see :func:`check`)."""
    settings = m.Settings(**data.get("settings", {}))
    questions = tuple(_question(q) for q in data["questions"])
    return m.Questionnaire(
        id=data["id"], version=str(data["version"]), languages=tuple(data["languages"]),
        questions=questions, title=data.get("title", {}), settings=settings,
        messages=data.get("messages", {}), source=source,
    )


def _question(q: dict[str, Any]) -> m.Question:
    choices = tuple(_choice(c) for c in q.get("choices", ())) or _default_choices(q["type"])
    kwargs: dict[str, Any] = {k: q[k] for k in ("reprompt", "label", "min", "max", "min_seconds", "role") if k in q}
    kwargs.update({k: int(q[k]) for k in ("max_digits", "max_seconds", "max_choices") if k in q})
    when = parse_condition(q["when"]) if "when" in q else None
    return m.Question(id=q["id"], type=q["type"], text=q["text"], when=when, choices=choices, **kwargs)


def _choice(c: dict[str, Any]) -> m.Choice:
    return m.Choice(**{**c, "key": int(c["key"]), "code": int(c["code"])})


def _default_choices(qtype: str) -> tuple[m.Choice, ...]:
    if qtype != m.YESNO:
        return ()
    return (m.Choice(1, 1, {"zh": "是", "en": "Yes"}), m.Choice(2, 2, {"zh": "否", "en": "No"}))


def checksum(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def bundled_path() -> Path:
    """The questionnaire that ships with Minyi (public safety and law-enforcement satisfaction)."""
    return Path(str(resources.files("survey.questionnaire").joinpath("bundled/safety.yaml")))


@cache
def load_bundled() -> m.Questionnaire:
    """The bundled questionnaire, read once per process (a questionnaire is immutable)."""
    return load(bundled_path())
