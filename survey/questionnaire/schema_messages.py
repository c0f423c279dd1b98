"""JSON Schema errors as messages a survey supervisor can act on.

jsonschema's own messages print whole instances and name validators; these name the field
(``question q_safety choices #2 key``) and say what was expected, in a line.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

import jsonschema

from survey.questionnaire.checks import KeyPath

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 40, 40, 4, 3, 2

_TYPES = {"string": "text", "integer": "a whole number", "number": "a number", "array": "a list",
          "object": "a mapping (key: value lines)", "boolean": "true or false", "null": "nothing"}
_ID_RULE = "a letter, then letters, digits or _ (at most 80 characters)"


def short(value: Any) -> str:
    """A one-line, bounded rendering of a value from the file."""
    return _SHORT.repr(value)


def field_name(data: Any, path: KeyPath) -> str:
    """``question q_safety choices #2 key`` for ``("questions", 4, "choices", 1, "key")``."""
    parts: list[str] = []
    rest = path
    if len(path) >= 2 and path[0] == "questions" and isinstance(path[1], int):
        parts.append(f"question {_question_id(data, path[1])}")
        rest = path[2:]
    parts += [f"#{k + 1}" if isinstance(k, int) else k for k in rest]
    return " ".join(parts)


def _question_id(data: Any, index: int) -> str:
    try:
        qid = data["questions"][index]["id"]
    except (KeyError, IndexError, TypeError):
        qid = None
    return qid if isinstance(qid, str) and qid else f"#{index + 1}"


def describe(error: jsonschema.ValidationError, data: Any) -> list[tuple[KeyPath, str]]:
    """``(path, message)`` pairs for one schema error (several for several unknown keys)."""
    path: KeyPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        return _unknown_keys(error, data, path)
    name = field_name(data, path)
    prefix = f"{name}: " if name else ""
    return [(path, prefix + _message(error, path))]


def _unknown_keys(error: jsonschema.ValidationError, data: Any, path: KeyPath) -> list[tuple[KeyPath, str]]:
    spec: Any = error.schema
    allowed = list(spec.get("properties", {}))
    patterns = list(spec.get("patternProperties", {}))
    instance: Any = error.instance
    extras = [k for k in instance if k not in allowed and not any(re.search(p, k) for p in patterns)]
    where = field_name(data, path)
    hint = f" (allowed: {', '.join(allowed)})" if allowed else " (names are lower_case_with_underscores)"
    return [((*path, k), f"{where + ': ' if where else ''}unknown key {short(k)}{hint}") for k in extras]


def _message(error: jsonschema.ValidationError, path: KeyPath) -> str:
    v: Any = error.validator
    expected: Any = error.validator_value
    got: Any = error.instance
    if v == "type":
        kinds: list[str] = expected if isinstance(expected, list) else [expected]
        return f"expected {' or '.join(_TYPES.get(k, k) for k in kinds)}, got {short(got)}"
    if v == "required":
        missing = [k for k in expected if isinstance(got, dict) and k not in got]
        return f"missing required key{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    if v == "enum":
        return f"{short(got)} is not one of: {', '.join(str(e) for e in expected)}"
    if v == "pattern":
        rule = _ID_RULE if path and path[-1] == "id" else f"the pattern {expected}"
        return f"{short(got)} does not follow {rule}"
    return _bounds_message(v, expected, got) or error.message[:200]


def _bounds_message(validator: Any, expected: Any, got: Any) -> str | None:
    messages = {
        "minItems": f"needs at least {expected} item(s)",
        "minProperties": "needs at least one language's text",
        "minLength": "must not be empty",
        "maxLength": f"is longer than {expected} characters",
        "uniqueItems": f"lists an item twice: {short(got)}",
        "minimum": f"{short(got)} is below the minimum {expected}",
        "maximum": f"{short(got)} is above the maximum {expected}",
        "exclusiveMinimum": f"{short(got)} must be greater than {expected}",
    }
    return messages.get(str(validator))
