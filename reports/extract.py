"""Flat frames from the database, for the analysis, the exports and the reports.

One row per completed interview, answer codes in columns named by question id, and no personal
data: no phone number, no case or contact id (the row id is the interview id).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

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
    columns: list[str] = []
    for q in questionnaire.questions:
        if q.type == qm.MULTIPLE:
            columns += [f"{q.id}_{c.code}" for c in q.choices]
        elif q.collects_answer:
            columns.append(q.id)
    return columns


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
