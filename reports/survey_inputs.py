"""A round's index definitions and population counts, read from their files (docs/formats.md) and
checked against its questionnaire and townships before anything is stored.

Both are kept as the demo keeps them: the indices in ``Survey.analysis_spec`` (with a ``weighting``
map), the counts on each ``Stratum.population``. The population file names its weighting variables
by question id and their levels by answer code, so the map is the identity (``d_sex`` code 1 is
level "1") and Minyi's own export can be weighted with the same file by ``minyi analyze``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from sqlalchemy.orm import Session

from analysis.errors import AnalysisError
from analysis.flatfile import FIRST_DATA_LINE, read_csv_strings
from analysis.population import TOTAL, Population
from analysis.spec import CompositeIndex, ScoreIndex, ShareIndex, parse_spec
from reports.results import bundled_analysis_spec, missing_inputs
from survey import audit
from survey.clock import Clock
from survey.models import Survey
from survey.questionnaire import Questionnaire, load_bundled
from survey.questionnaire import model as qm
from survey.surveys import StratumSpec, SurveyError, survey_questionnaire

SPEC_KEYS = ("indices", "integrity")
PRESENTATION_KEYS = ("headline", "names", "population_source")  # read by the bulletin only
ONE_CODE_TYPES = (qm.SINGLE, qm.YESNO)
MAX_POPULATION_HEADER = 4096
"""Characters the header line of population counts may have: township, N and the weighting
variables (or margin and level) are a few dozen. pandas builds a column for every name before any
check (~80 us and ~7 KB each): a 2 MB header of 200,000 names took 35 s and 1.4 GB to refuse, and
the 32 MB upload limit allows millions."""
MAX_VALUES = 10_000
"""Values an index definitions file may hold, each use of a YAML alias counted where it is used
(the bundled file holds about 100). A few lines of nested aliases stand for billions of values,
which the checks' messages and the stored copy would spell out: a 600-byte file cost 890 MB."""


@dataclass(frozen=True)
class PopulationCounts:
    """Rows per township (``margin, level, N`` or ``<question ids>, N``) and the weighting map."""

    rows: dict[str, list[dict[str, Any]]]
    weighting: dict[str, dict[str, Any]]


def settings_for_new_survey(questionnaire: Questionnaire, strata: Sequence[StratumSpec], strata_source: str,
                            population: Path | None, indices: Path | None) -> dict[str, Any]:
    """The ``analysis_spec`` of a new round; gives ``strata`` their population rows.

    Without ``indices`` a round of the bundled questionnaire gets the bundled ones. The counts come
    from ``population`` or, as before that option existed, from population columns of the
    townships file (checked the same way).
    """
    settings = read_indices(indices, questionnaire) if indices else _bundled_indices(questionnaire)
    embedded = [{"township": s.code, **row} for s in strata for row in s.population]
    if embedded and population is not None:
        raise SurveyError("%(file)s has population columns and a population file is given: keep the counts "
                          "in the population file only", file=strata_source)
    codes = [s.code for s in strata]
    if population is not None:
        counts = read_population(population, questionnaire, codes, strata_source)
    elif embedded:
        frame = pd.DataFrame([{k: str(v) for k, v in row.items()} for row in embedded], dtype=str)
        counts = population_counts(frame, questionnaire, codes, strata_source, strata_source)
    else:
        return settings
    for spec in strata:
        spec.population = counts.rows[spec.code]
    return {**settings, "weighting": counts.weighting}


def _bundled_indices(questionnaire: Questionnaire) -> dict[str, Any]:
    if questionnaire.id != load_bundled().id:
        return {}
    return {k: v for k, v in bundled_analysis_spec().items() if k != "weighting"}


def replace_survey_inputs(session: Session, survey: Survey, clock: Clock, user_id: int | None,
                          population: Path | None, indices: Path | None, names: Sequence[str] = ()) -> list[str]:
    """:func:`set_survey_inputs`, audited (``analysis_inputs_set``: what changed, what the round still
    lacks before and after, the files' ``names``, by default as given), from the command line
    (``user_id`` None) and the web alike; returns what changed."""
    before = missing_inputs(survey)
    changed = set_survey_inputs(survey, population, indices)
    files = list(names) or [p.name for p in (population, indices) if p is not None]
    audit.record(session, clock, user_id=user_id, action="analysis_inputs_set", entity="survey",
                 entity_id=survey.id, before={"missing": before},
                 after={"changed": changed, "missing": missing_inputs(survey), "files": files})
    return changed


def set_survey_inputs(survey: Survey, population: Path | None, indices: Path | None) -> list[str]:
    """Replace a stored round's index definitions and/or population counts; returns what changed."""
    questionnaire = survey_questionnaire(survey)
    settings = dict(survey.analysis_spec or {})
    changed = []
    if indices is not None:
        kept = {k: v for k, v in settings.items() if k not in (*SPEC_KEYS, *PRESENTATION_KEYS)}
        settings = {**kept, **read_indices(indices, questionnaire)}
        changed.append("index definitions")
    if population is not None:
        counts = read_population(population, questionnaire, [s.code for s in survey.strata],
                                 f"survey {survey.code}")
        for stratum in survey.strata:
            stratum.population = counts.rows[stratum.code]
        settings["weighting"] = counts.weighting
        changed.append("population counts")
    survey.analysis_spec = settings
    return changed


def read_indices(path: Path, questionnaire: Questionnaire) -> dict[str, Any]:
    """The index definitions of ``path`` as stored in ``Survey.analysis_spec`` (without ``weighting``)."""
    data = _yaml(path)
    unknown = [str(k) for k in data if k not in (*SPEC_KEYS, *PRESENTATION_KEYS)]
    if unknown:
        raise SurveyError("%(file)s:%(line)s: unknown key(s) %(keys)s (allowed: %(allowed)s)", file=str(path),
                          line=_line(data, unknown[0]), keys=", ".join(unknown),
                          allowed=", ".join((*SPEC_KEYS, *PRESENTATION_KEYS)))
    try:
        spec = parse_spec({k: data[k] for k in SPEC_KEYS if k in data}, source=str(path))
    except AnalysisError as exc:
        raise SurveyError("index definitions: %(problem)s", problem=str(exc)) from None
    indices = data["indices"]
    for index in spec.indices:
        if not isinstance(index, CompositeIndex):
            _check_index(index, questionnaire, f"{path}:{_line(indices, index.name)}: indices.{index.name}")
    for question in spec.integrity.straightlining:
        _choice_question(questionnaire, question, f"{path}:{_line(data, 'integrity')}: integrity.straightlining")
    _check_presentation(data, {i.name for i in spec.indices}, path)
    return {str(k): _plain(v) for k, v in data.items()}


def _yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SurveyError("%(file)s: cannot read the index definitions: %(problem)s", file=str(path),
                          problem=str(exc)) from None
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else "?"
        raise SurveyError("%(file)s:%(line)s: not valid YAML: %(problem)s", file=str(path), line=line,
                          problem=exc.problem) from None
    except YAMLError as exc:
        raise SurveyError("%(file)s: not valid YAML: %(problem)s", file=str(path), problem=str(exc)) from None
    if not isinstance(data, Mapping) or "indices" not in data:
        raise SurveyError("%(file)s: the file must be a mapping with an 'indices' key", file=str(path))
    if not _at_most(data, MAX_VALUES):
        raise SurveyError("%(file)s: more than %(limit)d values (aliases used over and over?): not index "
                          "definitions", file=str(path), limit=MAX_VALUES)
    return data


def _at_most(data: Any, limit: int) -> bool:
    """Whether ``data`` holds at most ``limit`` values, an alias counted at each use (the count
    stops at ``limit``, so a document of billions costs no more to refuse)."""
    stack, count = [data], 0
    while stack:
        count += 1
        if count > limit:
            return False
        node = stack.pop()
        if isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _line(node: Any, key: object) -> int | str:
    """The file line of ``key`` in a mapping the round-trip loader read."""
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return "?"


def _check_index(index: ShareIndex | ScoreIndex, q: Questionnaire, where: str) -> None:
    question = _choice_question(q, index.question, where)
    used = set(index.exclude) | (set(index.favourable) if isinstance(index, ShareIndex) else set(index.scores))
    if isinstance(index, ShareIndex) and index.valid is not None:
        used |= set(index.valid)
    unknown = sorted(used - {float(c.code) for c in question.choices})
    if unknown:
        raise SurveyError("%(where)s: code(s) %(codes)s are not answers of %(question)s (its codes: %(known)s)",
                          where=where, codes=", ".join(f"{c:g}" for c in unknown), question=question.id,
                          known=_codes(question))


def _choice_question(q: Questionnaire, question_id: str, where: str) -> qm.Question:
    try:
        question = q.question(question_id)
    except KeyError:
        raise SurveyError("%(where)s: %(question)r is not a question of questionnaire %(qid)s (its "
                          "single-choice questions: %(known)s)", where=where, question=question_id, qid=q.id,
                          known=", ".join(_one_code_ids(q))) from None
    if question.type not in ONE_CODE_TYPES:
        raise SurveyError("%(where)s: %(question)s is a %(type)s question; an index or a weighting variable "
                          "needs a single-choice question", where=where, question=question_id, type=question.type)
    return question


def _one_code_ids(q: Questionnaire) -> list[str]:
    return [x.id for x in q.questions if x.type in ONE_CODE_TYPES]


def _codes(question: qm.Question) -> str:
    return ", ".join(str(c.code) for c in question.choices)


def _check_presentation(data: Mapping[str, Any], names: set[str], path: Path) -> None:
    headline = data.get("headline", [])
    if not isinstance(headline, list) or any(not isinstance(h, str) or h not in names for h in headline):
        raise SurveyError("%(file)s:%(line)s: headline must list indices of this file (%(names)s)", file=str(path),
                          line=_line(data, "headline"), names=", ".join(sorted(names)))
    labels = data.get("names", {})
    if not isinstance(labels, Mapping):
        raise SurveyError("%(file)s:%(line)s: names must map index names to {zh: ..., en: ...}", file=str(path),
                          line=_line(data, "names"))
    for name, text in labels.items():
        if name not in names or not isinstance(text, Mapping) or not set(text) <= {"zh", "en"} \
                or not all(isinstance(v, str) for v in text.values()):
            raise SurveyError("%(file)s:%(line)s: names.%(name)s must name an index of this file and give "
                              "{zh: ..., en: ...}", file=str(path), line=_line(labels, name), name=name)
    source = data.get("population_source")
    if source is not None and not (isinstance(source, Mapping) and set(source) == {"zh", "en"}
                                   and all(isinstance(v, str) and v.strip() for v in source.values())):
        raise SurveyError("%(file)s:%(line)s: population_source must give {zh: ..., en: ...}: where the weighting "
                          "targets come from (resident adults, not 户籍)", file=str(path),
                          line=_line(data, "population_source"))


def _plain(node: Any) -> Any:
    """Plain dicts and lists for JSON storage (the round-trip loader's types carry line marks)."""
    if isinstance(node, Mapping):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def read_population(path: Path, questionnaire: Questionnaire, townships: Sequence[str],
                    townships_source: str = "the survey") -> PopulationCounts:
    """Margins (``township,margin,level,N``) or cells (``township,<question ids>,N``), with every
    township of ``townships`` present and every variable a single-choice question with its codes."""
    _short_header(path)
    try:
        frame = read_csv_strings(path)
    except AnalysisError as exc:
        raise SurveyError("population counts: %(problem)s", problem=str(exc)) from None
    return population_counts(frame, questionnaire, townships, str(path), townships_source)



def _short_header(path: Path) -> None:
    """Refuse population counts whose header line is past :data:`MAX_POPULATION_HEADER` characters
    (read no further than that)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = handle.readline(MAX_POPULATION_HEADER + 1)
    except (OSError, UnicodeDecodeError):
        return  # read_csv_strings says what is wrong
    if len(header.rstrip("\r\n")) > MAX_POPULATION_HEADER:
        raise SurveyError("%(file)s: the header line is longer than %(limit)d characters: population counts have "
                          "township, N and a few weighting columns (docs/formats.md)", file=str(path),
                          limit=MAX_POPULATION_HEADER)

def population_counts(frame: pd.DataFrame, questionnaire: Questionnaire, townships: Sequence[str],
                      source: str, townships_source: str) -> PopulationCounts:
    """The checks of :func:`read_population` on a frame whose index is the data-row number."""
    missing = {"township", "N"} - set(frame.columns)
    if missing:
        raise SurveyError("%(file)s: missing column(s) %(columns)s (docs/formats.md)", file=source,
                          columns=", ".join(sorted(missing)))
    margins = {"margin", "level"} <= set(frame.columns)
    variables = [c for c in frame.columns if c not in ("township", "N")]
    for label, row in frame.iterrows():
        where = f"{source}:{int(str(label)) + FIRST_DATA_LINE}"
        if row["township"] not in townships:
            raise SurveyError("%(where)s: township %(code)r is not one of %(of)s (%(codes)s)", where=where,
                              code=row["township"], of=townships_source, codes=", ".join(townships))
        cells = {row["margin"]: row["level"]} if margins else {v: row[v] for v in variables}
        for variable, level in cells.items():
            if variable != TOTAL or not margins:
                _check_level(questionnaire, variable, level, where)
    absent = [t for t in townships if t not in set(frame["township"])]
    if absent:
        raise SurveyError("%(file)s: no population rows for township(s) %(codes)s of %(of)s: every township "
                          "needs its counts", file=source, codes=", ".join(absent), of=townships_source)
    try:
        population = Population.from_frame(frame, source=source, first_line=FIRST_DATA_LINE)
    except AnalysisError as exc:
        raise SurveyError("population counts: %(problem)s", problem=str(exc)) from None
    return PopulationCounts(_rows_by_township(frame), _weighting(population))


def _check_level(q: Questionnaire, variable: str, level: str, where: str) -> None:
    question = _choice_question(q, variable, f"{where}: weighting variable {variable!r}")
    if level not in {str(c.code) for c in question.choices}:
        raise SurveyError("%(where)s: %(level)r is not an answer code of %(question)s (its codes: %(known)s)",
                          where=where, level=level, question=variable, known=_codes(question))


def _rows_by_township(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        town = str(record.pop("township"))
        rows.setdefault(town, []).append({**record, "N": float(record["N"])})
    return rows


def _weighting(population: Population) -> dict[str, dict[str, Any]]:
    """The identity map ``question -> {question, codes: {code: code as text}}`` the extract reads."""
    return {v: {"question": v, "codes": {int(level): level for level in population.levels[v]}}
            for v in population.by}
