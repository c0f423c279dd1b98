"""The dashboard's analysis is computed once per state of the data, and again when it changes."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from analysis.errors import AnalysisError
from analysis.results import AnalysisResult
from survey.models import Interview, Survey
from survey.vocabulary import InterviewStatus
from web import analysis_source
from web.analysis_source import AnalysisUnavailable, CachedAnalysis


def test_cached_until_an_interview_changes(web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runs: list[int] = []

    def fake(session, survey):  # type: ignore[no-untyped-def]
        runs.append(survey.id)
        return SimpleNamespace(run=SimpleNamespace(result=AnalysisResult()))

    monkeypatch.setattr(analysis_source, "analyse", fake)
    cached = CachedAnalysis()
    with web.sessions() as s:
        survey = s.get(Survey, web.demo.survey_id)
        first = cached(s, survey)
        assert cached(s, survey) is first and len(runs) == 1
        interview = s.scalars(select(Interview).where(Interview.status == InterviewStatus.COMPLETE)).first()
        web.clock.advance(timedelta(minutes=5))
        interview.updated_at = web.clock.now()
        s.flush()
        assert cached(s, survey) is not first and len(runs) == 2


def test_analysis_errors_become_unavailable(web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def failing(session, survey):  # type: ignore[no-untyped-def]
        raise AnalysisError("population: has no rows")

    monkeypatch.setattr(analysis_source, "analyse", failing)
    with web.sessions() as s, pytest.raises(AnalysisUnavailable, match="no rows"):
        CachedAnalysis()(s, s.get(Survey, web.demo.survey_id))
