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
``max_reprompts``, ``input_timeout``, ``repeat_key``, ``operator_key``, ``language_menu`` and
``consent`` (``not_required`` lets a questionnaire without a consent question start a survey).
"""

from __future__ import annotations

import io
import re
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
    boolean,
    classify,
    integer,
    language_code,
    number,
    read_workbook,
)
from survey.questionnaire.xlsform_survey import ListChoice, SurveyRows

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
                    "operator_key", "language_menu", "consent"}),
    texts=frozenset({"form_title"}),
    ignored=frozenset({"instance_name", "submission_url", "public_key", "style", "allow_choice_duplicates",
                       "auto_send", "auto_delete", "namespaces", "clean_text_values", "name"}))



def load_xlsform(path: str | Path, *, require_consent: bool = False) -> m.Questionnaire:
    """The questionnaire in an XLSForm workbook; :class:`QuestionnaireError` with cell locations.
    ``require_consent`` as for :func:`survey.questionnaire.loads`."""
    path = Path(path)
    form = _Form(read_workbook(path), path)
    data = form.convert()
    problems = form.problems or check(data, form.locate, require_consent=require_consent)
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
        self.cells[("languages",)] = self.cells[("questions",)] = f"{self.name}:survey!A1"
        data["questions"] = SurveyRows(self, self._choice_lists(choices)).convert(survey)
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

    def _choice_lists(self, sheet: Sheet | None) -> dict[str, list[ListChoice]]:
        lists: dict[str, list[ListChoice]] = {}
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

    def _choice(self, row: Row, name: str) -> ListChoice | None:
        key = row.get("key") or (name if re.fullmatch(r"[1-9]", name) else "")
        if not key:
            self.problem(row.ref("name"), f"choice {name!r} needs a key: its name is not a phone key 1-9, "
                                          "so add a key column")
            return None
        code = row.get("code") or (name if re.fullmatch(r"-?\d+", name) else key)
        data: dict[str, Any] = {"key": integer(key), "code": integer(code)}
        cells = {"key": row.ref("key" if row.get("key") else "name"),
                 "code": row.ref("code" if row.get("code") else "name"), "label": self.text_ref(row, "label")}
        if row.texts("label"):
            data["label"] = row.texts("label")
        if row.get("end"):
            data["end"], cells["end"] = row.get("end"), row.ref("end")
        if row.get("missing"):
            data["missing"], cells["missing"] = boolean(row.get("missing")), row.ref("missing")
        return ListChoice(name, data, cells)

    def text_ref(self, row: Row, base: str) -> str:
        """The cell of the first declared language ``base`` lacks in ``row``, else its first."""
        texts = row.texts(base)
        missing = next((lang for lang in self.languages if lang not in texts), None)
        return row.ref(base, missing)


def _ordered_languages(found: list[str], default: str | None) -> list[str]:
    return sorted(found, key=lambda lang: lang != default)


def _setting(name: str, value: str) -> Any:
    if name == "language_menu":
        return boolean(value)
    if name in ("max_reprompts", "input_timeout"):
        return number(value)
    return value
