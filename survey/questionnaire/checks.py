"""Semantic checks that a JSON Schema cannot express (run after the schema passes).

Each check yields ``(location, message)``; the location is the question id where there is one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from survey.questionnaire.conditions import ConditionError, parse_condition
from survey.questionnaire.model import CHOICE_TYPES, DEFAULT_MESSAGES, MULTIPLE, NUMBER, SINGLE, YESNO

Found = Iterator[tuple[str, str]]


def semantic_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    questions: list[dict[str, Any]] = data["questions"]
    order = {q["id"]: i for i, q in enumerate(questions)}
    found: list[tuple[str, str]] = list(_duplicate_ids(questions))
    for i, q in enumerate(questions):
        where = f"question {q['id']}"
        for check in (_choices, _number, _keys):
            found.extend((where, msg) for msg in check(q, data))
        found.extend((where, msg) for msg in _texts(q, data["languages"]))
        found.extend((where, msg) for msg in _condition(q, i, order))
        found.extend((where, msg) for msg in _gotos(q, i, order))
    found.extend(_messages(data))
    found.extend(_roles(questions))
    return found


def _duplicate_ids(questions: list[dict[str, Any]]) -> Found:
    for qid, count in Counter(q["id"] for q in questions).items():
        if count > 1:
            yield f"question {qid}", f"question id used {count} times"


def _choices(q: dict[str, Any], _data: dict[str, Any]) -> Iterator[str]:
    choices = q.get("choices", [])
    if q["type"] in (SINGLE, MULTIPLE) and not choices:
        yield f"a {q['type']} question needs choices"
    if q["type"] not in CHOICE_TYPES and choices:
        yield f"a {q['type']} question takes no choices"
    for key, count in Counter(c["key"] for c in choices).items():
        if count > 1:
            yield f"duplicate DTMF key {key} ({count} choices)"
    for code, count in Counter(c["code"] for c in choices).items():
        if count > 1:
            yield f"duplicate code {code} ({count} choices)"
    if q["type"] == MULTIPLE and any("end" in c or "goto" in c for c in choices):
        yield "multiple-choice answers cannot end the interview or jump"
    if q.get("max_choices", 0) > len(choices) > 0:
        yield f"max_choices {q['max_choices']} exceeds the {len(choices)} choices"


def _keys(q: dict[str, Any], data: dict[str, Any]) -> Iterator[str]:
    operator_key = str(data.get("settings", {}).get("operator_key", "0"))
    for c in q.get("choices", []):
        if str(c["key"]) == operator_key:
            yield f"key {c['key']} is the operator key and cannot be a choice"


def _number(q: dict[str, Any], _data: dict[str, Any]) -> Iterator[str]:
    if q["type"] != NUMBER:
        if "min" in q or "max" in q or "max_digits" in q:
            yield "min/max/max_digits apply only to number questions"
        return
    if "min" not in q or "max" not in q:
        yield "a number question needs min and max"
    elif q["min"] > q["max"]:
        yield f"min {q['min']} is greater than max {q['max']}"
    elif "max_digits" in q and len(str(int(abs(q["max"])))) > q["max_digits"]:
        yield f"max {q['max']} needs more than max_digits {q['max_digits']} digits"


def _texts(q: dict[str, Any], languages: list[str]) -> Iterator[str]:
    texts = [("text", q["text"])]
    if "reprompt" in q:
        texts.append(("reprompt", q["reprompt"]))
    texts += [(f"choice key {c['key']} label", c["label"]) for c in q.get("choices", [])]
    for what, text in texts:
        for lang in languages:
            if lang not in text:
                yield f"{what} has no '{lang}' text (declared in languages)"


def _condition(q: dict[str, Any], index: int, order: dict[str, int]) -> Iterator[str]:
    if "when" not in q:
        return
    try:
        cond = parse_condition(q["when"])
    except ConditionError as exc:
        yield str(exc)
        return
    for name in sorted(cond.names):
        if name not in order:
            yield f"condition {q['when']!r} names unknown question {name!r}"
        elif order[name] >= index:
            yield f"condition {q['when']!r} depends on question {name!r}, which is not asked before it"


def _gotos(q: dict[str, Any], index: int, order: dict[str, int]) -> Iterator[str]:
    for c in q.get("choices", []):
        target = c.get("goto")
        if target is None:
            continue
        if target not in order:
            yield f"choice key {c['key']} skips to missing question {target!r}"
        elif order[target] <= index:
            yield f"choice key {c['key']} skips back to {target!r}: a cycle"
        if "end" in c:
            yield f"choice key {c['key']} both ends the interview and skips"


def _messages(data: dict[str, Any]) -> Found:
    for name, text in data.get("messages", {}).items():
        if name not in DEFAULT_MESSAGES:
            yield f"messages.{name}", f"unknown message (known: {', '.join(sorted(DEFAULT_MESSAGES))})"
        for lang in data["languages"]:
            if lang not in text:
                yield f"messages.{name}", f"no '{lang}' text (declared in languages)"


def _roles(questions: list[dict[str, Any]]) -> Found:
    consents = [q for q in questions if q.get("role") == "consent"]
    if len(consents) > 1:
        yield "questions", f"{len(consents)} consent questions; at most one"
    for q in questions:
        if q.get("role") in ("consent", "screening", "weighting") and q["type"] not in (SINGLE, YESNO):
            yield f"question {q['id']}", f"a {q['role']} question must be single choice or yes/no"
