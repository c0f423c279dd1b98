"""Semantic checks that a JSON Schema cannot express (run on the questions the schema passes).

Each check yields ``(path, message)``. The path is a key path into the questionnaire mapping
(``("questions", 4, "choices", 2, "key")``), which each format turns into its own location: a
YAML line and column, or an XLSForm cell. Messages about a question start with its id.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from survey.questionnaire.conditions import Condition, ConditionError, parse_condition
from survey.questionnaire.model import (
    CHOICE_TYPES,
    DEFAULT_MESSAGES,
    MESSAGE,
    MULTIPLE,
    NOT_REQUIRED,
    NUMBER,
    OPEN,
    SINGLE,
    YESNO,
)

KeyPath = tuple[str | int, ...]
Found = Iterator[tuple[KeyPath, str]]

# Fields that mean something only for some question types.
_ONLY_FOR = {"min": (NUMBER,), "max": (NUMBER,), "max_digits": (NUMBER,), "max_seconds": (OPEN,),
             "min_seconds": (OPEN,), "max_choices": (MULTIPLE,), "role": (SINGLE, YESNO)}
_YESNO_CODES = frozenset({1, 2})


@dataclass(frozen=True)
class _Context:
    data: dict[str, Any]
    order: dict[str, int]  # question id -> index of its first use
    index: int
    broken: frozenset[int]  # questions the schema refused: not checked, not looked into

    @property
    def question(self) -> dict[str, Any]:
        return self.data["questions"][self.index]  # type: ignore[no-any-return]

    def other(self, question_id: str) -> dict[str, Any]:
        return self.data["questions"][self.order[question_id]]  # type: ignore[no-any-return]


def semantic_problems(data: dict[str, Any], broken: frozenset[int] = frozenset()) -> list[tuple[KeyPath, str]]:
    """Every problem of meaning in questionnaire data, in question order. Everything but the
    questions numbered in ``broken`` must have passed the schema."""
    questions: list[dict[str, Any]] = data["questions"]
    order: dict[str, int] = {}
    for i, q in enumerate(questions):
        if isinstance(q, dict) and isinstance(q.get("id"), str):
            order.setdefault(q["id"], i)
    found: list[tuple[KeyPath, str]] = list(_title(data))
    for i, q in enumerate(questions):
        if i in broken:
            continue
        ctx = _Context(data, order, i, broken)
        for check in _QUESTION_CHECKS:
            found.extend((("questions", i, *sub), f"question {q['id']}: {msg}") for sub, msg in check(ctx))
    found.extend(_messages(data))
    found.extend(_consents(questions, broken))
    return found


def missing_consent(data: dict[str, Any]) -> Found:
    """Fieldwork asks the resident's consent first, unless the questionnaire's settings say
    ``consent: not_required`` (a questionnaire used for something else, e.g. a re-contact)."""
    settings, questions = data.get("settings"), data.get("questions")
    if isinstance(settings, dict) and settings.get("consent") == NOT_REQUIRED:
        return
    if not isinstance(questions, list) or any(isinstance(q, dict) and q.get("role") == "consent" for q in questions):
        return
    yield ("questions",), ("no question has role: consent (the resident agreeing to the interview): add one, "
                           f"or set settings: consent: {NOT_REQUIRED}")


def _duplicate_id(ctx: _Context) -> Found:
    first = ctx.order[ctx.question["id"]]
    if first != ctx.index:
        yield ("id",), f"id already used by question #{first + 1}"


def _applies(ctx: _Context) -> Found:
    qtype = ctx.question["type"]
    for name, types in _ONLY_FOR.items():
        if name in ctx.question and qtype not in types:
            yield (name,), f"{name} applies only to {' and '.join(types)} questions, not {qtype}"


def _choices(ctx: _Context) -> Found:
    q = ctx.question
    choices: list[dict[str, Any]] = q.get("choices", [])
    if q["type"] in (SINGLE, MULTIPLE) and not choices:
        yield (), f"a {q['type']} question needs choices"
    if q["type"] not in CHOICE_TYPES and choices:
        yield ("choices",), f"a {q['type']} question takes no choices"
    yield from _duplicates(choices, "key", "DTMF key")
    yield from _duplicates(choices, "code", "code")
    for j, c in enumerate(choices):
        for name in ("end", "goto"):
            if q["type"] == MULTIPLE and name in c:
                yield ("choices", j, name), f"a multiple-choice answer cannot {name} (choice key {c['key']})"
    if q.get("max_choices", 0) > len(choices) > 0:
        yield ("max_choices",), f"max_choices {q['max_choices']} exceeds the {len(choices)} choices"


def _duplicates(choices: list[dict[str, Any]], name: str, what: str) -> Found:
    seen: dict[Any, int] = {}
    for j, c in enumerate(choices):
        if c[name] in seen:
            yield ("choices", j, name), f"duplicate {what} {c[name]} (choices #{seen[c[name]] + 1} and #{j + 1})"
        seen.setdefault(c[name], j)


def _keys(ctx: _Context) -> Found:
    operator_key = str(ctx.data.get("settings", {}).get("operator_key", "0"))
    for j, c in enumerate(ctx.question.get("choices", [])):
        if str(c["key"]) == operator_key:
            yield ("choices", j, "key"), f"key {c['key']} is the operator key and cannot be a choice"


def _number(ctx: _Context) -> Found:
    q = ctx.question
    if q["type"] != NUMBER:
        return
    bounds = [name for name in ("min", "max") if name in q]
    for name in bounds:
        if not math.isfinite(q[name]):
            yield (name,), f"{name} must be a finite number, not {q[name]}"
            return
    if len(bounds) < 2:
        yield (), "a number question needs min and max"
    elif q["min"] < 0:
        yield ("min",), f"min {q['min']} is below 0: a phone keypad cannot enter a minus sign"
    elif q["min"] > q["max"]:
        yield ("min",), f"min {q['min']} is greater than max {q['max']}"
    elif "max_digits" in q and len(str(int(q["max"]))) > q["max_digits"]:
        yield ("max_digits",), f"max {q['max']} needs more than max_digits {q['max_digits']} digits"


def _recording(ctx: _Context) -> Found:
    q = ctx.question
    if q["type"] == OPEN and q.get("min_seconds", 0) > q.get("max_seconds", 60):
        yield ("min_seconds",), f"min_seconds {q['min_seconds']} exceeds max_seconds {q.get('max_seconds', 60)}"


def _texts(ctx: _Context) -> Found:
    q = ctx.question
    texts: list[tuple[KeyPath, str, dict[str, str]]] = [
        ((name,), name, q[name]) for name in ("text", "reprompt", "label") if name in q]
    texts += [(("choices", j, "label"), f"choice key {c['key']} label", c["label"])
              for j, c in enumerate(q.get("choices", []))]
    for path, what, text in texts:
        yield from _languages(path, what, text, ctx.data["languages"])


def _languages(path: KeyPath, what: str, text: dict[str, str], languages: list[str]) -> Found:
    for lang in languages:
        if lang not in text:
            yield path, f"{what} has no '{lang}' text (declared in languages)"


def _condition(ctx: _Context) -> Found:
    q = ctx.question
    if "when" not in q:
        return
    try:
        cond = parse_condition(q["when"])
    except ConditionError as exc:
        yield ("when",), str(exc)
        return
    for name in sorted(cond.names):
        yield from ((("when",), msg) for msg in _condition_name(ctx, cond, name))


def _condition_name(ctx: _Context, cond: Condition, name: str) -> Iterator[str]:
    if name not in ctx.order:
        yield f"condition {cond.source!r} names unknown question {name!r}"
        return
    if ctx.order[name] >= ctx.index:
        yield f"condition {cond.source!r} depends on question {name!r}, which is not asked before it"
        return
    if ctx.order[name] in ctx.broken:
        return
    other = ctx.other(name)
    if other["type"] in (MESSAGE, OPEN):
        what = "a message" if other["type"] == MESSAGE else "a voice recording"
        yield f"condition {cond.source!r} depends on {name!r}, {what}, which has no answer skip logic can test"
        return
    for question_id, value in cond.literals():
        if question_id == name:
            yield from _literal(cond, other, value)


def _literal(cond: Condition, other: dict[str, Any], value: Any) -> Iterator[str]:
    if other["type"] == NUMBER:
        if not isinstance(value, int | float):
            yield f"condition {cond.source!r} compares number question {other['id']!r} with {value!r}"
        return
    codes = {c["code"] for c in other.get("choices", [])}
    if not codes and other["type"] == YESNO:
        codes = set(_YESNO_CODES)
    if codes and value not in codes:
        listed = ", ".join(str(c) for c in sorted(codes))
        yield (f"condition {cond.source!r} tests {other['id']!r} for {value!r}, which is not one of its "
               f"codes ({listed})")


def _gotos(ctx: _Context) -> Found:
    for j, c in enumerate(ctx.question.get("choices", [])):
        target = c.get("goto")
        if target is None:
            continue
        where = ("choices", j, "goto")
        if target not in ctx.order:
            yield where, f"choice key {c['key']} skips to missing question {target!r}"
        elif ctx.order[target] <= ctx.index:
            yield where, f"choice key {c['key']} skips back to {target!r}: a cycle"
        if "end" in c:
            yield where, f"choice key {c['key']} both ends the interview and skips"


_QUESTION_CHECKS: tuple[Callable[[_Context], Found], ...] = (
    _duplicate_id, _applies, _choices, _keys, _number, _recording, _texts, _condition, _gotos)


def _title(data: dict[str, Any]) -> Found:
    if "title" in data:
        yield from _languages(("title",), "title", data["title"], data["languages"])


def _messages(data: dict[str, Any]) -> Found:
    for name, text in data.get("messages", {}).items():
        if name not in DEFAULT_MESSAGES:
            yield ("messages", name), f"unknown message {name!r} (known: {', '.join(sorted(DEFAULT_MESSAGES))})"
        yield from _languages(("messages", name), f"message {name}", text, data["languages"])


def _consents(questions: list[dict[str, Any]], broken: frozenset[int]) -> Found:
    consents = [i for i, q in enumerate(questions) if i not in broken and q.get("role") == "consent"]
    for i in consents[1:]:
        yield ("questions", i, "role"), f"question {questions[i]['id']}: a second consent question; at most one"
