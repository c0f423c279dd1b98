"""Where the officials' dashboard gets its figures: the round's analysis from ``reports.results``
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
from reports.results import analyse, series
from survey.models import Interview, Stratum, Survey
from survey.vocabulary import InterviewStatus

KEEP = 8  # analyses kept (one per survey round and data state)


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


class CachedAnalysis:
    """``reports.results.analyse`` for the dashboard and the bulletin, one cache per app."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._results: OrderedDict[tuple[Any, ...], AnalysisResult] = OrderedDict()

    def __call__(self, session: Session, survey: Survey) -> AnalysisResult:
        key = fingerprint(session, survey)
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        try:
            result = analyse(session, survey).run.result
        except (AnalysisError, KeyError, ValueError) as exc:
            raise AnalysisUnavailable(str(exc)) from None
        self._results[key] = result
        while len(self._results) > self.keep:
            self._results.popitem(last=False)
        return result
