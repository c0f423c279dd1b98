"""Kernel, part of :mod:`survey`. Questionnaires: the YAML format, its validation, XLSForm import and the bundled survey."""

from survey.questionnaire.loader import (
    Problem,
    QuestionnaireError,
    bundled_path,
    checksum,
    load,
    load_bundled,
    loads,
)
from survey.questionnaire.model import Choice, Question, Questionnaire

__all__ = ["Choice", "Problem", "Question", "Questionnaire", "QuestionnaireError", "bundled_path",
           "checksum", "load", "load_bundled", "loads"]
