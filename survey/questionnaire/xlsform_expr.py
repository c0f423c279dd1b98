"""XLSForm ``relevant`` and ``constraint`` expressions, translated to Minyi's terms.

``relevant`` becomes a condition (:mod:`survey.questionnaire.conditions`): ``${q}`` references,
``=``/``!=``/``<``/``<=``/``>``/``>=``, ``and``/``or``/``not(...)``, parentheses and
``selected(${q}, 'name')``. A literal compared with a select question is a choice *name*, as in
XLSForm, and becomes that choice's code; ``${q} != ''`` becomes ``answered(q)``.
``constraint`` on an integer question becomes its range: ``. >= 0 and . <= 99``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from survey.questionnaire.model import MULTIPLE, NUMBER, SINGLE, YESNO


class ExpressionError(ValueError):
    """An expression Minyi cannot translate, with the reason."""


@dataclass(frozen=True)
class Referent:
    """What a ``${name}`` refers to: the question's type and its choices' codes by name."""

    type: str
    codes: Mapping[str, int] = field(default_factory=dict)

    @property
    def names_are_codes(self) -> bool:
        return all(name == str(code) for name, code in self.codes.items())


_TOKEN = re.compile(r"""\s*(?:
      (?P<ref>\$\{[^}]*\})
    | (?P<num>\d+(?:\.\d+)?)
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    | (?P<dot>\.)
    | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.VERBOSE)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_KINDS = {"ref": "a question reference ${name}", "op": "a comparison (=, !=, <, <=, >, >=)"}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}

Token = tuple[str, str]
Operand = tuple[str, str]  # ("ref", question) | ("num", "4") | ("str", "text")


def tokenize(text: str) -> list[Token]:
    text, pos, out = text.strip(), 0, []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[pos:].lstrip())
            raise ExpressionError(f"cannot read {text[start:start + 20]!r} at character {start + 1}")
        out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    if not out:
        raise ExpressionError("the expression is empty")
    return out


def translate_relevant(text: str, questions: Mapping[str, Referent]) -> str:
    """The Minyi condition for an XLSForm ``relevant`` expression."""
    parser = _Relevant(tokenize(text), questions)
    condition = parser.disjunction()
    if parser.pos < len(parser.tokens):
        raise ExpressionError(f"unexpected {parser.tokens[parser.pos][1]!r} after {condition!r}")
    return condition


class _Relevant:
    """Recursive descent: or > and > not(...) / (...) / selected(...) / comparison."""

    def __init__(self, tokens: list[Token], questions: Mapping[str, Referent]) -> None:
        self.tokens, self.pos, self.questions = tokens, 0, questions

    def peek(self) -> Token:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "the end")

    def take(self, kind: str, text: str | None = None) -> str:
        got_kind, got = self.peek()
        if got_kind != kind or (text is not None and got.lower() != text):
            wanted = repr(text) if text else _KINDS[kind]
            raise ExpressionError(f"expected {wanted} but found {got!r}")
        self.pos += 1
        return got

    def accept_word(self, word: str) -> bool:
        kind, text = self.peek()
        if kind == "word" and text.lower() == word:
            self.pos += 1
            return True
        return False

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.accept_word("or"):
            parts.append(self.conjunction())
        return " or ".join(parts)

    def conjunction(self) -> str:
        parts = [self.unary()]
        while self.accept_word("and"):
            parts.append(self.unary())
        return " and ".join(parts)

    def unary(self) -> str:
        if self.peek() == ("punct", "("):
            return f"({self.group()})"
        if self.accept_word("not"):
            return f"not ({self.group()})"
        if self.accept_word("selected"):
            self.take("punct", "(")
            name = self.reference()
            self.take("punct", ",")
            value = self.literal()
            self.take("punct", ")")
            return self.selected(name, value)
        return self.comparison()

    def group(self) -> str:
        self.take("punct", "(")
        inner = self.disjunction()
        self.take("punct", ")")
        return inner

    def reference(self) -> str:
        name = self.take("ref")[2:-1].strip()
        if not _NAME.fullmatch(name):
            raise ExpressionError(f"${{{name}}} does not name a question")
        return name

    def literal(self) -> Operand:
        kind, text = self.peek()
        if kind == "str":
            self.pos += 1
            return "str", text[1:-1]
        if kind == "num":
            self.pos += 1
            return "num", text
        if kind == "word":
            raise ExpressionError(f"{text!r} is not understood: write questions as ${{name}}, text in quotes, and "
                                  "use only selected(), not(), and, or and comparisons")
        raise ExpressionError(f"expected a value such as '1' but found {text!r}")

    def operand(self) -> Operand:
        return ("ref", self.reference()) if self.peek()[0] == "ref" else self.literal()

    def comparison(self) -> str:
        left = self.operand()
        op = self.take("op")
        right = self.operand()
        if left[0] != "ref" and right[0] == "ref":
            left, op, right = right, _FLIP[op], left
        if left[0] != "ref":
            raise ExpressionError(f"comparison {left[1]} {op} {right[1]} names no question")
        return self.compare(left[1], op, right)

    def compare(self, name: str, op: str, right: Operand) -> str:
        pyop = "==" if op == "=" else op
        if right[0] == "ref":
            return f"{name} {pyop} {right[1]}"
        if right == ("str", "") and op in ("=", "!="):
            return f"not answered({name})" if op == "=" else f"answered({name})"
        referent = self.questions.get(name)
        if referent is None:
            return f"{name} {pyop} {_python_literal(right)}"
        if referent.type == MULTIPLE:
            raise ExpressionError(f"use selected(${{{name}}}, 'name') to test the select_multiple question {name}")
        if referent.type in (SINGLE, YESNO):
            if op not in ("=", "!=") and not referent.names_are_codes:
                raise ExpressionError(f"{op} compares choice names, but {name}'s names are not its codes: use = or !=")
            return f"{name} {pyop} {self.code(name, right[1])}"
        if referent.type == NUMBER and not _is_number(right[1]):
            raise ExpressionError(f"{name} is a number question; {right[1]!r} is not a number")
        return f"{name} {pyop} {_python_literal(right)}"

    def selected(self, name: str, value: Operand) -> str:
        referent = self.questions.get(name)
        if referent is None or referent.type not in (SINGLE, MULTIPLE, YESNO):
            raise ExpressionError(f"selected() needs a select question, and {name} is not one")
        code = self.code(name, value[1])
        return f"{code} in {name}" if referent.type == MULTIPLE else f"{name} == {code}"

    def code(self, name: str, choice: str) -> int:
        codes = self.questions[name].codes
        if choice in codes:
            return codes[choice]
        if not codes and choice in ("1", "2"):  # a yes/no question with the default choices
            return int(choice)
        listed = ", ".join(repr(c) for c in codes) or "'1', '2'"
        raise ExpressionError(f"{choice!r} is not a choice name of {name} ({listed})")


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?", text) is not None


def _python_literal(operand: Operand) -> str:
    kind, text = operand
    if kind == "num" or _is_number(text):
        return text
    return repr(text)


def translate_constraint(text: str) -> dict[str, int | float]:
    """``{"min": ..., "max": ...}`` from ``. >= 0 and . <= 99`` (either side, any order)."""
    bounds: dict[str, int | float] = {}
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        for name, value in _bound(clause).items():
            if name in bounds:
                raise ExpressionError(f"constraint {text!r} sets {name} twice")
            bounds[name] = value
    return bounds


def _bound(clause: str) -> dict[str, int | float]:
    tokens = tokenize(clause)
    kinds = [kind for kind, _ in tokens]
    if kinds == ["num", "op", "dot"]:
        tokens = [tokens[2], ("op", _FLIP[tokens[1][1]]), tokens[0]]
    elif kinds != ["dot", "op", "num"]:
        raise ExpressionError(f"cannot use {clause!r}: write the range as '. >= MIN and . <= MAX'")
    op, number = tokens[1][1], _to_number(tokens[2][1])
    if op == "!=":
        raise ExpressionError(f"cannot use {clause!r}: a range has no holes")
    if op in ("<", ">") and not isinstance(number, int):
        raise ExpressionError(f"cannot use {clause!r}: use <= or >= with a decimal bound")
    step = {"<": -1, ">": 1}.get(op, 0)
    names = {">": ["min"], ">=": ["min"], "<": ["max"], "<=": ["max"], "=": ["min", "max"]}[op]
    return {name: number + step for name in names}


def _to_number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)
