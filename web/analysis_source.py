"""Where the officials' dashboard gets its figures: one :class:`AnalysisResult` per survey round.

``create_app(analyse=...)`` may pass any function with the same signature (tests do).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from analysis.results import AnalysisResult
from survey.models import Survey


class AnalysisUnavailable(RuntimeError):
    """The survey cannot be analysed yet; the message says why."""


def survey_analysis(session: Session, survey: Survey) -> AnalysisResult:
    raise AnalysisUnavailable("the survey analysis is not wired into this build yet")
