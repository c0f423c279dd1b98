"""XLSForm import: a workbook becomes the same questionnaire mapping a YAML file holds, then goes
through the same schema and semantic checks, so both formats are checked alike. The model's
``source`` is that mapping as YAML: a survey created from a workbook stores, and reloads, the same
questionnaire.

Standard XLSForm read: the ``survey`` sheet (``type``, ``name``, ``label::<language>``,
``relevant``, ``constraint``, ``parameters``; ``hint`` and ``required`` are ignored), the
``choices`` sheet (``list_name``, ``name``, ``label::<language>``) and the ``settings`` sheet
(``form_id``, ``version``, ``form_title::<language>``, ``default_language``). Types: select_one,
select_multiple, integer, text and audio (a voice recording), note (a message), begin/end group.

Minyi's additions: type ``yesno [list]``; survey columns ``role`` (consent, screening,
weighting), ``reprompt::<language>`` and ``short_label::<language>``; ``parameters``
``max_seconds``, ``min_seconds``, ``max_digits``, ``max_choices``; choices columns ``key``,
``code`` (a ``name`` 1-9 is both by default), ``end`` and ``missing``; settings columns
``max_reprompts``, ``input_timeout``, ``repeat_key``, ``operator_key`` and ``language_menu``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter
from ruamel.yaml import YAML

from survey.questionnaire import model as m
from survey.questionnaire.checks import KeyPath
from survey.questionnaire.loader import Problem, QuestionnaireError, build, check
from survey.questionnaire.xlsform_book import (
    RawSheet,
    Row,
    Sheet,
    SheetSpec,
    classify,
    language_code,
    read_workbook,
)
from survey.questionnaire.xlsform_expr import (
    ExpressionError,
    Referent,
    translate_constraint,
    translate_relevant,
)

_PRESENTATION = frozenset({"media", "image", "audio", "video", "big-image"})
SURVEY = SheetSpec(
    read=frozenset({"type", "name", "relevant", "constraint", "parameters", "role"}),
    texts=frozenset({"label", "reprompt", "short_label"}),
    ignored=_PRESENTATION | {"hint", "guidance_hint", "required", "required_message", "constraint_message",
                             "appearance"})
CHOICES = SheetSpec(read=frozenset({"list_name", "name", "key", "code", "end", "missing"}),
                    texts=frozenset({"label"}), ignored=_PRESENTATION)
SETTINGS = SheetSpec(
    read=frozenset({"form_id", "version", "default_language", "max_reprompts", "input_timeout", "repeat_key",
                    "operator_key", "language_menu"}),
    texts=frozenset({"form_title"}),
    ignored=frozenset({"instance_name", "submission_url", "public_key", "style", "allow_choice_duplicates",
                       "auto_send", "auto_delete", "namespaces", "clean_text_values", "name"}))

_SIMPLE_TYPES = {"integer": m.NUMBER, "text": m.OPEN, "audio": m.OPEN, "note": m.MESSAGE}
_LIST_TYPES = {"select_one": m.SINGLE, "select_multiple": m.MULTIPLE, "yesno": m.YESNO}
_METADATA = frozenset({"start", "end", "today", "deviceid", "simserial", "subscriberid", "phonenumber",
                       "username", "email", "audit", "start-geopoint"})
_PARAMETERS = ("max_seconds", "min_seconds", "max_digits", "max_choices")
_GROUPS = ("begin_group", "end_group")


def load_xlsform(path: str | Path) -> m.Questionnaire:
    """The questionnaire in an XLSForm workbook; :class:`QuestionnaireError` with cell locations."""
    path = Path(path)
    form = _Form(read_workbook(path), path)
    data = form.convert()
    problems = form.problems or check(data, form.locate)
    if problems:
        raise QuestionnaireError(problems)
    return build(data, dump_yaml(data))


def dump_yaml(data: dict[str, Any]) -> str:
    """Questionnaire data as YAML text that :func:`survey.questionnaire.loads` reads back. It names
    no file: the stored questionnaire's checksum must not change when the workbook is renamed."""
    yaml = YAML(typ="rt")
    yaml.allow_unicode, yaml.width, yaml.default_flow_style = True, 4096, False
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return f"# Converted by Minyi from an XLSForm workbook.\n{stream.getvalue()}"


@dataclass(frozen=True)
class _Choice:
    name: str
    data: dict[str, Any]
    cells: dict[str, str]  # field -> cell


class _Form:
    """One conversion: the workbook's sheets in, questionnaire data and cell locations out."""

    def __init__(self, raw: dict[str, RawSheet], path: Path) -> None:
        self.raw, self.path, self.name = raw, path, str(path)
        self.problems: list[Problem] = []
        self.cells: dict[KeyPath, str] = {(): f"{self.name}:survey!A1"}
        self.languages: list[str] = []

    def locate(self, path: KeyPath) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self.cells:
                return self.cells[path[:end]]
        return self.name

    def problem(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))

    def sheet(self, title: str, spec: SheetSpec, default_language: str | None) -> Sheet | None:
        raw = self.raw.get(title)
        return classify(raw, spec, self.name, default_language, self.problems) if raw else None

    def convert(self) -> dict[str, Any]:
        if "survey" not in self.raw:
            sheets = ", ".join(repr(r.title) for r in self.raw.values()) or "none"
            raise QuestionnaireError([Problem(self.name, f"no 'survey' sheet (sheets: {sheets})")])
        default = self._default_language()
        settings = self.sheet("settings", SETTINGS, default)
        survey = classify(self.raw["survey"], SURVEY, self.name, default, self.problems)
        choices = self.sheet("choices", CHOICES, default)
        self.languages = _ordered_languages(survey.languages("label"), default)
        data: dict[str, Any] = {"id": self.path.stem, **self._settings(settings), "languages": self.languages}
        self.cells[("languages",)] = f"{self.name}:survey!A1"
        data["questions"] = _Questions(self, self._choice_lists(choices)).convert(survey)
        return data

    # -- settings -------------------------------------------------------------------------------

    def _default_language(self) -> str | None:
        raw = self.raw.get("settings")
        if raw is None or not raw.rows:
            return None
        headers = ["_".join(h.lower().split()) for h in raw.header]
        if "default_language" not in headers:
            return None
        index = headers.index("default_language")
        texts = raw.rows[0][1]
        value = texts[index] if index < len(texts) else ""
        language = language_code(value) if value else None
        if value and language is None:
            self.problem(f"{self.name}:{raw.title}!{get_column_letter(index + 1)}{raw.rows[0][0]}",
                         f"default_language {value!r} is not zh or en")
        return language

    def _settings(self, sheet: Sheet | None) -> dict[str, Any]:
        if sheet is None or not sheet.rows:
            return {}
        row = sheet.rows[0]
        if len(sheet.rows) > 1:
            self.problem(sheet.rows[1].ref(), "the settings sheet takes one row of values under its header")
        self.cells[()] = row.ref()
        data: dict[str, Any] = {}
        for column, value in row.cells.items():
            ref = sheet.ref(column.index, row.number)
            if column.base in ("form_id", "version"):
                key = "id" if column.base == "form_id" else "version"
                data[key], self.cells[(key,)] = value, ref
            elif column.base == "form_title" and column.language:
                data.setdefault("title", {})[column.language] = value
                self.cells[("title",)] = ref
            elif column.base != "default_language":
                data.setdefault("settings", {})[column.base] = _setting(column.base, value)
                self.cells[("settings", column.base)] = ref
        return data

    # -- choices --------------------------------------------------------------------------------

    def _choice_lists(self, sheet: Sheet | None) -> dict[str, list[_Choice]]:
        lists: dict[str, list[_Choice]] = {}
        for row in sheet.rows if sheet else []:
            list_name, name = row.get("list_name"), row.get("name")
            if not list_name or not name:
                self.problem(row.ref("list_name" if not list_name else "name"),
                             f"a choice needs a {'list_name' if not list_name else 'name'}")
                continue
            choice = self._choice(row, name)
            if choice is not None:
                lists.setdefault(list_name, []).append(choice)
        return lists

    def _choice(self, row: Row, name: str) -> _Choice | None:
        key = row.get("key") or (name if re.fullmatch(r"[1-9]", name) else "")
        if not key:
            self.problem(row.ref("name"), f"choice {name!r} needs a key: its name is not a phone key 1-9, "
                                          "so add a key column")
            return None
        code = row.get("code") or (name if re.fullmatch(r"-?\d+", name) else key)
        data: dict[str, Any] = {"key": _integer(key), "code": _integer(code)}
        cells = {"key": row.ref("key" if row.get("key") else "name"),
                 "code": row.ref("code" if row.get("code") else "name"), "label": self.text_ref(row, "label")}
        if row.texts("label"):
            data["label"] = row.texts("label")
        if row.get("end"):
            data["end"], cells["end"] = row.get("end"), row.ref("end")
        if row.get("missing"):
            data["missing"], cells["missing"] = _boolean(row.get("missing")), row.ref("missing")
        return _Choice(name, data, cells)

    def text_ref(self, row: Row, base: str) -> str:
        """The cell of the first declared language ``base`` lacks in ``row``, else its first."""
        texts = row.texts(base)
        missing = next((lang for lang in self.languages if lang not in texts), None)
        return row.ref(base, missing)


class _Questions:
    """The survey sheet's rows as questions, flattening groups into conditions."""

    def __init__(self, form: _Form, lists: dict[str, list[_Choice]]) -> None:
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
        q: dict[str, Any] = {"type": qtype}
        if row.get("name"):
            q["id"], cells[(*at, "id")] = row.get("name"), row.ref("name")
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
        q["choices"] = [dict(c.data) for c in self.lists[list_name]]
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
            q[name], self.form.cells[(*at, name)] = _number(value), row.ref("parameters")


def _ordered_languages(found: list[str], default: str | None) -> list[str]:
    return sorted(found, key=lambda lang: lang != default)


def _integer(text: str) -> int | str:
    """A whole number from a cell, or the text itself for the schema to reject with its location."""
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _number(text: str) -> int | float | str:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return float(text) if re.fullmatch(r"-?\d+\.\d*", text) else text


def _boolean(text: str) -> bool | str:
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "y"):
        return True
    return False if lowered in ("false", "no", "0", "n") else text


def _setting(name: str, value: str) -> Any:
    if name == "language_menu":
        return _boolean(value)
    if name in ("max_reprompts", "input_timeout"):
        return _number(value)
    return value
