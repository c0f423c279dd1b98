"""Each survey's questionnaire, read once per service.

A survey keeps the questionnaire it was created with, so it is read from its row once and parsed
once per process (:func:`survey.surveys.survey_questionnaire`); a call then needs no query for it.
The cache belongs to one service (one database), never to the module: two databases may have
surveys with the same id.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from survey.models import Survey
from survey.questionnaire import Questionnaire
from survey.surveys import survey_questionnaire


class Questionnaires:
    def __init__(self) -> None:
        self._by_survey: dict[int, Questionnaire] = {}

    def of(self, session: Session, survey_id: int) -> Questionnaire:
        if survey_id not in self._by_survey:
            survey = session.get(Survey, survey_id)
            if survey is None:
                raise LookupError(f"no survey {survey_id}")
            self._by_survey[survey_id] = survey_questionnaire(survey)
        return self._by_survey[survey_id]
