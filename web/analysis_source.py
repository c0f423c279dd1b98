"""Where the officials' dashboard gets its figures: the round's analysis from ``survey.results``
(weights, indices with CIs, change, ranks), kept per process until the data changes.

``create_app(analyse=...)`` may pass any function with the same signature (tests do).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.errors import AnalysisError
from analysis.results import AnalysisResult
from survey.models import Interview, InterviewStatus, Stratum, Survey
from survey.results import analyse, series

KEEP = 8  # analyses kept (one per survey round and data state)
_cache: OrderedDict[tuple[Any, ...], AnalysisResult] = OrderedDict()


class AnalysisUnavailable(RuntimeError):
    """The survey cannot be analysed yet; the message says why."""


def fingerprint(session: Session, survey: Survey) -> tuple[Any, ...]:
    """Changes whenever an interview of the series completes or is corrected, or a setting changes."""
    rounds = [s.id for s in series(session, survey)]
    completes, latest = session.execute(select(func.count(), func.max(Interview.updated_at)).where(
        Interview.survey_id.in_(rounds), Interview.status == InterviewStatus.COMPLETE)).one()
    populations = session.scalars(select(Stratum.population).where(Stratum.survey_id == survey.id)).all()
    settings = json.dumps([survey.analysis_spec, populations], sort_keys=True, default=str)
    return (survey.id, tuple(rounds), completes, latest, hash(settings))


def survey_analysis(session: Session, survey: Survey) -> AnalysisResult:
    key = fingerprint(session, survey)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    try:
        result = analyse(session, survey).run.result
    except (AnalysisError, KeyError, ValueError) as exc:
        raise AnalysisUnavailable(str(exc)) from None
    _cache[key] = result
    while len(_cache) > KEEP:
        _cache.popitem(last=False)
    return result
