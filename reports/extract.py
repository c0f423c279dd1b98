"""Flat frames from the database, for the analysis, the exports and the reports.

One row per completed interview, answer codes in columns named by question id, and no personal
data: no phone number, no contact id (the row id is the interview id). The analysts' export adds
the design's columns (:func:`design_columns`: the case id as the PSU) and, for the files that
declare missing values, the not-asked code (:func:`mark_not_asked`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.labels import NOT_ASKED, answer_columns_of, skippable
from survey.models import Answer, Case, Interview, Recording, Stratum, Survey
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm
from survey.vocabulary import AnswerStatus, InterviewStatus


@dataclass
class Extract:
    """Responses and population of one survey round, ready for :mod:`analysis`."""

    responses: pd.DataFrame
    population: pd.DataFrame
    weighting: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


def answer_columns(questionnaire: Questionnaire) -> list[str]:
    """Column names of the answers, in questionnaire order (multiple choice: one 0/1 per code)."""
    return [column for q in questionnaire.questions if q.collects_answer for column in answer_columns_of(q)]


def responses_frame(session: Session, survey: Survey, questionnaire: Questionnaire,
                    statuses: Iterable[str] = (InterviewStatus.COMPLETE,), with_status: bool = False) -> pd.DataFrame:
    """One row per interview with the given statuses: id, wave, township, mode, language
    (and status), answers."""
    rows = session.execute(
        select(Interview.id, Interview.mode, Interview.language, Stratum.code, Interview.status)
        .join(Case, Case.id == Interview.case_id).join(Stratum, Stratum.id == Case.stratum_id)
        .where(Interview.survey_id == survey.id, Interview.status.in_(tuple(statuses)))
        .order_by(Interview.id)
    ).all()
    answers = _answers_by_interview(session, [r[0] for r in rows])
    recorded = _recorded(session, [r[0] for r in rows])
    columns = answer_columns(questionnaire)
    records = []
    fixed = ["id", "wave", "township", "mode", "language", *(["status"] if with_status else [])]
    for interview_id, mode, language, township, status in rows:
        record: dict[str, Any] = {"id": interview_id, "wave": survey.period, "township": township,
                                  "mode": mode, "language": language, "status": status}
        record.update(_answer_cells(questionnaire, answers.get(interview_id, {}), recorded.get(interview_id, set())))
        records.append(record)
    return pd.DataFrame.from_records(records, columns=[*fixed, *columns])


def design_columns(session: Session, survey: Survey, frame: pd.DataFrame, language: str) -> pd.DataFrame:
    """``frame`` with ``township_name``, ``stratum`` (the township code: the design's stratum) and
    ``psu`` (the case id: one number, one household, the design's primary sampling unit) after
    ``township``."""
    cases = dict(session.execute(select(Interview.id, Interview.case_id).where(Interview.survey_id == survey.id)).all())
    names = {s.code: (s.name_zh if language == "zh" else s.name_en) or s.name_zh for s in survey.strata}
    at = list(frame.columns).index("township") + 1
    out = frame.copy()
    out.insert(at, "psu", frame["id"].map(cases).astype("Int64"))
    out.insert(at, "stratum", frame["township"])
    out.insert(at, "township_name", frame["township"].map(names))
    return out


def mark_not_asked(frame: pd.DataFrame, q: Questionnaire) -> pd.DataFrame:
    """``frame`` with :data:`~survey.labels.NOT_ASKED` in the blank cells of the questions its
    interview's route passed over (the engine's route: ``when`` on the earlier answers, ``goto``)."""
    out = frame.copy()
    can_skip = skippable(q)
    for position, (_label, row) in enumerate(frame.iterrows()):
        for question_id in _passed_over(q, row) & can_skip:
            for column in answer_columns_of(q.question(question_id)):
                if pd.isna(frame[column].iat[position]):
                    out.iloc[position, out.columns.get_loc(column)] = NOT_ASKED
    return out


def _passed_over(q: Questionnaire, row: pd.Series) -> set[str]:
    seen: dict[str, Any] = {}
    out: set[str] = set()
    i = 0
    while i < len(q.questions):
        question = q.questions[i]
        i += 1
        if question.when is not None and not question.when.evaluate(seen):
            out.add(question.id)
            continue
        value = _logic_value(question, row)
        if value is None:
            continue
        seen[question.id] = value
        choice = question.choice_for_code(value) if isinstance(value, int) else None
        if choice is not None and choice.goto:
            target = q.index_of(choice.goto)
            out.update(later.id for later in q.questions[i:target])
            i = target
    return out


def _logic_value(question: qm.Question, row: pd.Series) -> Any:
    """What the skip logic saw of an answer in an export row (``Entry.value_for_logic``)."""
    if not question.collects_answer or question.type == qm.OPEN:
        return None
    if question.type == qm.MULTIPLE:
        flags = [(c.code, row.get(f"{question.id}_{c.code}")) for c in question.choices]
        return None if all(pd.isna(f) for _c, f in flags) else [c for c, f in flags if f == 1]
    value = row.get(question.id)
    if pd.isna(value):
        return None
    return value if question.type == qm.NUMBER else int(value)


class _Given(NamedTuple):
    """What a frame needs of a stored answer (rows, not ORM objects: a round has many thousands)."""

    status: str
    code: int | None
    codes: list[Any] | None
    value: float | None


def _answers_by_interview(session: Session, ids: list[int]) -> dict[int, dict[str, _Given]]:
    out: dict[int, dict[str, _Given]] = defaultdict(dict)
    for chunk in _chunks(ids, 900):
        for interview_id, question_id, *given in session.execute(
                select(Answer.interview_id, Answer.question_id, Answer.status, Answer.code, Answer.codes, Answer.value)
                .where(Answer.interview_id.in_(chunk))):
            out[interview_id][question_id] = _Given(*given)
    return out


def _recorded(session: Session, ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(ids, 900):
        for interview_id, question_id in session.execute(
                select(Recording.interview_id, Recording.question_id).where(Recording.interview_id.in_(chunk))):
            if interview_id is not None:  # always, by the where clause
                out[interview_id].add(question_id)
    return out


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _answer_cells(q: Questionnaire, answers: Mapping[str, _Given], recorded: set[str]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for question in q.questions:
        a = answers.get(question.id)
        answered = a is not None and a.status == AnswerStatus.ANSWERED
        if question.type == qm.MULTIPLE:
            chosen = set(a.codes or []) if a is not None and answered else None
            for c in question.choices:
                cells[f"{question.id}_{c.code}"] = None if chosen is None else int(c.code in chosen)
        elif question.type == qm.OPEN:
            cells[question.id] = 1 if question.id in recorded else (0 if a is not None else None)
        elif question.type == qm.NUMBER:
            cells[question.id] = a.value if a is not None and answered else None
        elif question.collects_answer:
            cells[question.id] = a.code if a is not None and answered else None
    return cells


def population_frame(strata: Iterable[Stratum], weighting: tuple[str, ...]) -> pd.DataFrame:
    """Census cells ``township, <weighting variables>, N`` of the survey's townships, or their margins
    ``township, margin, level, N`` (the total and the weighting variables' rows) when stored so."""
    strata = list(strata)
    if any("margin" in row for s in strata for row in s.population):
        columns = ["township", "margin", "level"]
        records = [{"township": s.code, "margin": str(row["margin"]), "level": str(row["level"]), "N": row["N"]}
                   for s in strata for row in s.population if row["margin"] in (*weighting, "total")]
    else:
        columns = ["township", *weighting]
        records = [{"township": s.code, **{v: str(row[v]) for v in weighting}, "N": row["N"]}
                   for s in strata for row in s.population]
    return pd.DataFrame.from_records(records, columns=[*columns, "N"])


def survey_extract(session: Session, survey: Survey, questionnaire: Questionnaire) -> Extract:
    """Completed interviews with their weighting cells, and the census cells to weight them to.

    A respondent who gave no answer to a weighting question gets the most common category of
    their township (deterministic hot-deck); how many were imputed is noted.
    """
    weighting_map: Mapping[str, Any] = survey.analysis_spec.get("weighting", {})
    frame = responses_frame(session, survey, questionnaire)
    notes: list[str] = []
    for variable, rule in weighting_map.items():
        codes = {int(k): str(v) for k, v in rule["codes"].items()}
        labels = frame[rule["question"]].map(lambda c, codes=codes: codes.get(int(c)) if pd.notna(c) else None)
        frame[variable], imputed = _impute_modal(labels, frame["township"])
        if imputed:
            notes.append(f"{variable}: {imputed} respondent(s) without an answer given their township's "
                         "most common category")
    weighting = tuple(weighting_map)
    return Extract(frame, population_frame(survey.strata, weighting), weighting, notes)


def _impute_modal(labels: pd.Series, township: pd.Series) -> tuple[pd.Series, int]:
    missing = labels.isna()
    if not missing.any():
        return labels, 0
    filled = labels.copy()
    for town in township[missing].unique():
        mode = Counter(labels[(township == town) & ~missing]).most_common(1)
        fallback = mode[0][0] if mode else Counter(labels.dropna()).most_common(1)[0][0]
        filled[(township == town) & missing] = fallback
    return filled, int(missing.sum())
