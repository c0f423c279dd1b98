"""Skip-logic conditions: a safe subset of Python expressions over earlier answers.

Examples: ``q_safety in [4, 5]``, ``q_age >= 2 and q_sex == 1``, ``3 in q_worries``,
``not answered(q_open)``. Names are question ids; a multiple-choice answer is a list of codes;
an unanswered question is ``None`` (every comparison with it is false).
Parsed once with :mod:`ast` and evaluated by walking the tree: no ``eval``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_ORDERING: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_ALLOWED = (ast.BoolOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.List, ast.Tuple, ast.Load,
            ast.And, ast.Or, ast.Not, *_COMPARE_OPS)


class ConditionError(ValueError):
    """A condition that cannot be parsed, with the reason."""


@dataclass(frozen=True)
class Condition:
    """A parsed condition. Two conditions are equal when their source text is."""

    source: str
    tree: ast.Expression = field(compare=False, repr=False)
    names: frozenset[str] = field(compare=False)

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return bool(_eval(self.tree.body, answers))

    def literals(self) -> Iterator[tuple[str, Any]]:
        """``(question, value)`` for each constant a question's answer is compared with or
        looked up in, so a checker can tell whether the value is one of that question's codes."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                for left, right in zip(operands, operands[1:], strict=False):
                    yield from _literal_pair(left, right)


def parse_condition(source: str) -> Condition:
    try:
        tree = ast.parse(source.strip(), mode="eval")
        names: set[str] = set()
        _check(tree.body, names, source)
    except (SyntaxError, ValueError) as exc:
        if isinstance(exc, ConditionError):
            raise
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise ConditionError(f"cannot parse condition {source!r}: {reason}") from None
    except (RecursionError, MemoryError):
        raise ConditionError(f"condition {source[:40]!r}... is nested too deeply") from None
    return Condition(source, tree, frozenset(names))


def _literal_pair(left: ast.expr, right: ast.expr) -> Iterator[tuple[str, Any]]:
    if isinstance(right, ast.Name):
        left, right = right, left
    if not isinstance(left, ast.Name):
        return
    values = right.elts if isinstance(right, ast.List | ast.Tuple) else [right]
    for value in values:
        if isinstance(value, ast.Constant):
            yield left.id, value.value


def _check(node: ast.AST, names: set[str], source: str) -> None:
    if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
        raise ConditionError(f"operator {ast.unparse(node)!r} not allowed in {source!r} (only not)")
    if isinstance(node, ast.Compare) and not all(isinstance(op, _COMPARE_OPS) for op in node.ops):
        raise ConditionError(f"comparison not allowed in {source!r}")
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id == "answered" and len(node.args) == 1
                and isinstance(node.args[0], ast.Name) and not node.keywords):
            raise ConditionError(f"only answered(question) may be called in {source!r}")
        names.add(node.args[0].id)
        return
    if isinstance(node, ast.Name):
        names.add(node.id)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float | str):
            raise ConditionError(f"constant {ast.unparse(node)} not allowed in {source!r}")
        return
    if not isinstance(node, _ALLOWED):
        raise ConditionError(f"{type(node).__name__} not allowed in condition {source!r}")
    for child in ast.iter_child_nodes(node):
        _check(child, names, source)


def _eval(node: ast.AST, answers: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, answers) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        return not _eval(node.operand, answers)
    if isinstance(node, ast.Compare):
        return _compare(node, answers)
    if isinstance(node, ast.Call):
        arg = node.args[0]
        return isinstance(arg, ast.Name) and answers.get(arg.id) is not None
    if isinstance(node, ast.Name):
        return answers.get(node.id)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, answers) for e in node.elts]
    raise ConditionError(f"cannot evaluate {ast.unparse(node)}")


def _compare(node: ast.Compare, answers: Mapping[str, Any]) -> bool:
    left = _eval(node.left, answers)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _eval(comparator, answers)
        if not _compare_one(op, left, right):
            return False
        left = right
    return True


def _compare_one(op: ast.cmpop, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    if isinstance(op, ast.In | ast.NotIn):
        inside = isinstance(right, list) and left in right
        return inside if isinstance(op, ast.In) else not inside
    try:
        return bool(_ORDERING[type(op)](left, right))
    except TypeError:
        return False
