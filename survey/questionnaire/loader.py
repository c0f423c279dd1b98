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
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from survey.questionnaire import model as m
from survey.questionnaire.checks import KeyPath, missing_consent, semantic_problems
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


def load(path: str | Path, *, require_consent: bool = False) -> m.Questionnaire:
    """The questionnaire in the YAML file ``path`` (see :func:`loads`)."""
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
    return loads(text, name=str(path), require_consent=require_consent)


def loads(text: str, name: str = "<questionnaire>", *, require_consent: bool = False) -> m.Questionnaire:
    """The questionnaire in YAML ``text``; ``name`` (the file) prefixes every problem's location.
    ``require_consent``: refuse one without a consent question unless its settings say
    ``consent: not_required`` (a new survey's questionnaire; one already stored is read as it is)."""
    doc, duplicates = _parse_yaml(text, name)

    def locate(path: KeyPath) -> str:
        return _locate(doc, path, name)

    data = plain(doc, locate)
    problems = duplicates + check(data, locate, require_consent=require_consent)
    if problems:
        raise QuestionnaireError(sorted(problems, key=_position))
    return build(data, text)


def check(data: dict[str, Any], locate: Locate, *, require_consent: bool = False) -> list[Problem]:
    """Every problem in questionnaire data (plain dicts and lists): the schema's, then the meaning
    of whatever the schema passed. ``locate`` turns a key path into the format's location."""
    errors = list(_validator().iter_errors(data))
    found = [pair for error in errors for pair in describe(error, data)]
    broken = _broken_questions(errors)
    if broken is not None:
        found += semantic_problems(data, broken)
    if require_consent:
        found += missing_consent(data)
    return list(dict.fromkeys(Problem(locate(path), message) for path, message in found))


def _broken_questions(errors: list[jsonschema.ValidationError]) -> frozenset[int] | None:
    """The questions with a schema error; ``None`` when an error lies outside the questions, so
    that nothing can be checked for meaning."""
    broken = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if len(path) < 2 or path[0] != "questions" or not isinstance(path[1], int):
            return None
        broken.add(path[1])
    return frozenset(broken)


def _position(problem: Problem) -> tuple[int, int]:
    """Line and column of a ``file:line:col`` location, for listing problems in file order."""
    parts = problem.location.rsplit(":", 2)
    numbers = [int(p) for p in parts[1:] if p.isdigit()]
    return (numbers + [0, 0])[0], (numbers + [0, 0])[1]


def _parse_yaml(text: str, name: str) -> tuple[dict[Any, Any], list[Problem]]:
    """The document, and its duplicate keys (YAML would silently keep one value of each)."""
    if not text.strip():
        raise QuestionnaireError([Problem(name, "the file is empty")])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        data = yaml.load(text)
        duplicates = _duplicate_keys(yaml.compose(text), name)
    except MarkedYAMLError as exc:
        raise QuestionnaireError([_yaml_problem(exc, name)]) from None
    except Exception as exc:  # ruamel raises several unrelated types (and RecursionError) for bad input
        raise QuestionnaireError([Problem(name, f"YAML: {exc}")]) from None
    if data is None:
        raise QuestionnaireError([Problem(name, "the file holds only comments: no questionnaire")])
    if not isinstance(data, dict):
        raise QuestionnaireError([Problem(f"{name}:1:1", "the file must be a mapping with id, version, "
                                                         f"languages and questions, not {_kind(data)}")])
    return data, duplicates


def _duplicate_keys(root: Node | None, name: str) -> list[Problem]:
    """Every key written twice in one mapping, at its second place (each node once: aliases)."""
    found: list[Problem] = []
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, ScalarNode] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value in first:
                    where = f"{name}:{key.start_mark.line + 1}:{key.start_mark.column + 1}"
                    found.append(Problem(where, f"duplicate key {key.value!r} (first at line "
                                                f"{first[key.value].start_mark.line + 1}): keep one of them"))
                elif isinstance(key, ScalarNode):
                    first[key.value] = key
                stack += [key, value]
        elif isinstance(node, SequenceNode):
            stack += node.value
    return found


def _yaml_problem(exc: MarkedYAMLError, name: str) -> Problem:
    """Where the parser stopped, and what it was parsing and from which line."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    message = exc.problem or exc.context or "cannot parse"
    context = exc.context_mark
    if exc.problem and exc.context and context is not None and context is not mark:
        message += f" ({exc.context} started at line {context.line + 1})"
    hint = next((h for words, h in _YAML_HINTS if words in message), None)
    return Problem(where, f"YAML: {message}" + (f": {hint}" if hint else ""))


# The parser's words, and what usually causes them in a hand-written questionnaire.
_YAML_HINTS = (
    ("'\\t'", "indent with spaces, not tabs"),
    ("flow mapping", "a {...} left open, or a ':' or ',' inside it: close it, or quote the text"),
    ("flow sequence", "a [...] left open, or a ',' inside an item: close it, or quote the item"),
    ("mapping values are not allowed here", "a ': ' inside a value: put the whole text in quotes"),
    ("could not find expected ':'", "a line that is not 'key: value' (a missing ':' or a wrong indent?)"),
    ("found unexpected end of stream", "a quote opened and never closed"),
    ("found undefined alias", "a '*name' with no '&name' before it: quote text that starts with '*'"),
    ("expected <block end>", "a line indented differently from the lines of its block"),
)


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
