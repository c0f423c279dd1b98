"""The ``survey`` sheet of an XLSForm: rows become questions, groups become conditions.

A ``begin group`` row's ``relevant`` applies to every question inside it, so it is joined with
``and`` to each question's own condition; ``relevant`` and ``constraint`` are translated by
:mod:`survey.questionnaire.xlsform_expr`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Protocol

from survey.questionnaire import model as m
from survey.questionnaire.checks import KeyPath
from survey.questionnaire.xlsform_book import Row, Sheet, number
from survey.questionnaire.xlsform_expr import (
    ExpressionError,
    Referent,
    translate_constraint,
    translate_relevant,
)

_SIMPLE_TYPES = {"integer": m.NUMBER, "text": m.OPEN, "audio": m.OPEN, "note": m.MESSAGE}
_LIST_TYPES = {"select_one": m.SINGLE, "select_multiple": m.MULTIPLE, "yesno": m.YESNO}
_METADATA = frozenset({"start", "end", "today", "deviceid", "simserial", "subscriberid", "phonenumber",
                       "username", "email", "audit", "start-geopoint"})
_PARAMETERS = ("max_seconds", "min_seconds", "max_digits", "max_choices")
_GROUPS = ("begin_group", "end_group")


class Form(Protocol):
    """What the rows report to: problems, the cell behind each key path, and text cells."""

    cells: dict[KeyPath, str]

    def problem(self, location: str, message: str) -> None: ...

    def text_ref(self, row: Row, base: str) -> str: ...


@dataclass(frozen=True)
class ListChoice:
    """One row of the choices sheet, ready to copy into each question that uses its list."""

    name: str
    data: dict[str, Any]
    cells: dict[str, str]  # field -> cell


class SurveyRows:
    """The survey sheet's rows as questions, flattening groups into conditions."""

    def __init__(self, form: Form, lists: dict[str, list[ListChoice]]) -> None:
        self.form, self.lists = form, lists
        self.referents: dict[str, Referent] = {}
        self.groups: list[tuple[Row, str | None]] = []  # begin-group row, its condition

    def convert(self, sheet: Sheet) -> list[dict[str, Any]]:
        kinds = [(row, self.kind(row)) for row in sheet.rows]
        for row, kind in kinds:
            if kind and kind[0] not in _GROUPS and row.get("name"):
                codes = {c.name: c.data["code"] for c in self.lists.get(kind[1] or "", [])
                         if isinstance(c.data["code"], int)}
                self.referents[row.get("name")] = Referent(kind[0], codes)
        questions: list[dict[str, Any]] = []
        for row, kind in kinds:
            if kind:
                self.row(row, kind, questions)
        for row, _ in self.groups:
            self.form.problem(row.ref("type"), "begin group without end group")
        return questions

    def kind(self, row: Row) -> tuple[str, str | None] | None:
        """``(type, list name)`` of a row; None for metadata rows and rows with a problem."""
        words = row.get("type").split()
        if len(words) == 2 and words[0].lower() in ("begin", "end"):
            words = [f"{words[0]}_{words[1]}".lower()]
        head = words[0].lower() if words else ""
        if head in _METADATA and len(words) == 1:
            return None
        if head in _GROUPS and len(words) == 1:
            return head, None
        if head in _SIMPLE_TYPES and len(words) == 1:
            return _SIMPLE_TYPES[head], None
        if head in _LIST_TYPES and (len(words) == 2 or (head == "yesno" and len(words) == 1)):
            return _LIST_TYPES[head], words[1] if len(words) == 2 else None
        message = (f"type {row.get('type')!r} is not supported on the phone (use select_one LIST, select_multiple "
                   "LIST, yesno [LIST], integer, text, audio, note, begin group, end group)" if words else
                   "the row has no type")
        self.form.problem(row.ref("type"), message)
        return None

    def row(self, row: Row, kind: tuple[str, str | None], questions: list[dict[str, Any]]) -> None:
        qtype, list_name = kind
        if qtype == "begin_group":
            self.groups.append((row, self.relevant(row)))
        elif qtype == "end_group":
            if self.groups:
                self.groups.pop()
            else:
                self.form.problem(row.ref("type"), "end group without begin group")
        else:
            questions.append(self.question(row, qtype, list_name, len(questions)))

    def question(self, row: Row, qtype: str, list_name: str | None, index: int) -> dict[str, Any]:
        at: KeyPath = ("questions", index)
        cells = self.form.cells
        cells[at] = cells[(*at, "type")] = row.ref("type")
        q: dict[str, Any] = {}
        if row.get("name"):
            q["id"], cells[(*at, "id")] = row.get("name"), row.ref("name")
        q["type"] = qtype
        for base, key in (("label", "text"), ("reprompt", "reprompt"), ("short_label", "label")):
            cells[(*at, key)] = self.form.text_ref(row, base)
            if row.texts(base):
                q[key] = row.texts(base)
        if row.get("role"):
            q["role"], cells[(*at, "role")] = row.get("role"), row.ref("role")
        self.condition(row, q, at)
        self.choices(row, list_name, q, at)
        self.constraint(row, q, at)
        self.parameters(row, q, at)
        return q

    def relevant(self, row: Row) -> str | None:
        text = row.get("relevant")
        if not text:
            return None
        try:
            return translate_relevant(text, self.referents)
        except ExpressionError as exc:
            self.form.problem(row.ref("relevant"), f"relevant {text!r}: {exc}")
            return None

    def condition(self, row: Row, q: dict[str, Any], at: KeyPath) -> None:
        own = self.relevant(row)
        conditions = [(r, c) for r, c in (*self.groups, (row, own)) if c]
        if not conditions:
            return
        texts = [c for _, c in conditions]
        q["when"] = texts[0] if len(texts) == 1 else " and ".join(f"({c})" for c in texts)
        self.form.cells[(*at, "when")] = conditions[-1][0].ref("relevant")

    def choices(self, row: Row, list_name: str | None, q: dict[str, Any], at: KeyPath) -> None:
        if list_name is None:
            return
        if list_name not in self.lists:
            self.form.problem(row.ref("type"), f"choice list {list_name!r} is not in the choices sheet")
            return
        q["choices"] = [copy.deepcopy(c.data) for c in self.lists[list_name]]  # shared, YAML would alias them
        for j, choice in enumerate(self.lists[list_name]):
            self.form.cells[(*at, "choices", j)] = choice.cells["key"]
            self.form.cells.update({(*at, "choices", j, name): cell for name, cell in choice.cells.items()})

    def constraint(self, row: Row, q: dict[str, Any], at: KeyPath) -> None:
        text = row.get("constraint")
        if not text:
            return
        if q["type"] != m.NUMBER:
            self.form.problem(row.ref("constraint"), "a constraint is read only for integer questions (their range)")
            return
        try:
            bounds = translate_constraint(text)
        except ExpressionError as exc:
            self.form.problem(row.ref("constraint"), f"constraint {text!r}: {exc}")
            return
        q.update(bounds)
        self.form.cells.update({(*at, name): row.ref("constraint") for name in bounds})

    def parameters(self, row: Row, q: dict[str, Any], at: KeyPath) -> None:
        text = row.get("parameters")
        for item in re.split(r"[\s,;]+", text) if text else []:
            name, _, value = item.partition("=")
            if name not in _PARAMETERS or not value:
                self.form.problem(row.ref("parameters"), f"parameter {item!r} is not one of "
                                                         f"{', '.join(p + '=N' for p in _PARAMETERS)}")
                continue
            q[name], self.form.cells[(*at, name)] = number(value), row.ref("parameters")
