"""Validated questionnaires of stored rows, parsed once per process (a stored version never changes:
its checksum is part of the cache key)."""

from __future__ import annotations

from functools import lru_cache

from survey.models import Survey
from survey.questionnaire import Questionnaire, loads


@lru_cache(maxsize=32)
def _parse(checksum: str, source: str, name: str) -> Questionnaire:
    return loads(source, name=name)


def questionnaire_of(survey: Survey) -> Questionnaire:
    row = survey.questionnaire
    return _parse(row.checksum, row.source, f"{row.qid} v{row.version}")
