"""The analysis of survey rounds stored in the database (the thin layer over :mod:`analysis`).

A *series* is the rounds that share a questionnaire (same ``qid``): change is measured between
them. Weighting uses each round's own census cells through the current round's table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd
from ruamel.yaml import YAML
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.errors import AnalysisError
from analysis.periods import PeriodError, in_time_order
from analysis.pipeline import AnalysisRun, Options, run_analysis
from analysis.spec import Spec, parse_spec
from reports.extract import Extract, survey_extract
from survey.models import Questionnaire, Survey
from survey.questionnaire import load_bundled
from survey.surveys import SurveyError, survey_questionnaire

INDICES, POPULATION = "indices", "population"  # what a round may lack to be analysed (missing_inputs)


def bundled_analysis_spec() -> dict[str, Any]:
    """Index definitions and weighting map that go with the bundled questionnaire."""
    text = resources.files("survey.questionnaire").joinpath("bundled/indices.yaml").read_text("utf-8")
    return dict(YAML(typ="safe").load(text))


def index_spec(survey: Survey) -> Spec:
    """The survey's indices; a round of the bundled questionnaire stored without them uses the bundled ones."""
    stored = survey.analysis_spec or {}
    if INDICES in missing_inputs(survey):
        raise SurveyError("survey %(code)s has no index definitions: add them with `minyi survey set %(code)s "
                          "--indices INDICES.yaml` (docs/formats.md)", code=survey.code)
    data = _numeric_keys(stored if "indices" in stored else bundled_analysis_spec())
    return parse_spec({k: data[k] for k in ("indices", "integrity") if k in data}, source=f"survey {survey.code}")


def check_population(survey: Survey) -> None:
    """Refuse a round that cannot be weighted, saying how to give it its population counts."""
    if POPULATION in missing_inputs(survey):
        raise SurveyError("survey %(code)s has no population counts to weight to: add them with `minyi survey "
                          "set %(code)s --population POP.csv` (docs/formats.md)", code=survey.code)


def missing_inputs(survey: Survey) -> list[str]:
    """What the round lacks to be analysed: :data:`INDICES` (index definitions; a round of the
    bundled questionnaire has the bundled ones) and :data:`POPULATION` (counts for every township)."""
    missing = []
    if "indices" not in (survey.analysis_spec or {}) and survey.questionnaire.qid != load_bundled().id:
        missing.append(INDICES)
    if not survey.strata or not all(s.population for s in survey.strata):
        missing.append(POPULATION)
    return missing


def _numeric_keys(node: Any) -> Any:
    """JSON storage turns the integer keys of a score map into strings: turn them back."""
    if isinstance(node, dict):
        return {(int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k): _numeric_keys(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_numeric_keys(v) for v in node]
    return node


def series(session: Session, survey: Survey) -> list[Survey]:
    """Rounds with the same questionnaire up to and including ``survey``, oldest first: their periods in
    time order (analysis.periods: 2026-9 before 2026-10), as text where their forms differ (``analyse``
    then refuses them)."""
    qid = survey.questionnaire.qid
    rounds = session.scalars(select(Survey).join(Questionnaire).where(Questionnaire.qid == qid)).all()
    periods = sorted({r.period for r in rounds})
    with contextlib.suppress(PeriodError):
        periods = in_time_order(periods)
    place = {period: i for i, period in enumerate(periods)}
    return sorted((r for r in rounds if place[r.period] <= place[survey.period]), key=lambda r: place[r.period])


@dataclass
class RoundAnalysis:
    run: AnalysisRun
    extracts: dict[str, Extract]  # by period
    periods: list[str]


def analyse(session: Session, survey: Survey, *, rounds: Sequence[Survey] | None = None) -> RoundAnalysis:
    """Weights and indices for ``survey`` and the earlier rounds of its series."""
    rounds = list(rounds) if rounds is not None else series(session, survey)
    try:
        in_time_order(list(dict.fromkeys(r.period for r in rounds)))
    except PeriodError as exc:
        raise AnalysisError(f"the rounds {', '.join(r.code for r in rounds)} of survey {survey.code}'s series "
                            f"cannot be put in time order: {exc}") from None
    check_population(survey)
    spec = index_spec(survey)
    extracts = {r.period: survey_extract(session, r, survey_questionnaire(r)) for r in rounds}
    current = extracts[survey.period]
    responses = pd.concat([e.responses for e in extracts.values()], ignore_index=True)
    options = Options(by=current.weighting, aux=_auxiliary(survey))  # cells or margins: their method
    run = run_analysis(responses, current.population, spec, options)
    for e in extracts.values():
        run.result.log += e.notes
    return RoundAnalysis(run, extracts, [r.period for r in rounds])


def final_weights(session: Session, survey: Survey) -> pd.DataFrame:
    """``id, weight, design_weight``: each completed interview's final weight in its round's
    analysis and its design weight N_h/n_h (a :class:`SurveyError` says what the round lacks when
    it cannot be weighted)."""
    weights = analyse(session, survey).run.weights
    mine = weights.loc[weights["period"].astype(str) == survey.period, ["id", "weight", "design_weight"]]
    return mine.astype({"id": "int64"})


def _auxiliary(survey: Survey) -> pd.DataFrame | None:
    """Numeric township covariates for the small-area model (every township must have them)."""
    rows = {s.code: s.auxiliary for s in survey.strata if s.auxiliary}
    if len(rows) < len(survey.strata) or not rows:
        return None
    frame = pd.DataFrame.from_dict(rows, orient="index")
    numeric = frame.select_dtypes("number").dropna(axis=1)
    return numeric if not numeric.empty else None
