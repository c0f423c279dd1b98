"""A questionnaire file of either format, told apart by its extension."""

from __future__ import annotations

from pathlib import Path

from survey.questionnaire.loader import Problem, QuestionnaireError, load
from survey.questionnaire.model import Questionnaire


def read_any(path: Path, *, require_consent: bool = False) -> Questionnaire:
    """A questionnaire from YAML or from an XLSForm workbook (by file extension); see
    :func:`survey.questionnaire.loads` for ``require_consent``."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from survey.questionnaire.xlsform import load_xlsform  # openpyxl: only for workbooks

        return load_xlsform(path, require_consent=require_consent)
    if suffix == ".xls":
        raise QuestionnaireError([Problem(str(path), "an Excel 97-2003 .xls workbook: save it as .xlsx")])
    return load(path, require_consent=require_consent)
