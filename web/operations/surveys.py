"""Supervisor changes to a survey round: questionnaire upload, creation, quotas, calling windows,
the fieldwork settings file, and starting or pausing the dialer. All audited."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dialer import fieldwork
from dialer.policy import DialPolicy
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Questionnaire as QuestionnaireRow
from survey.models import Survey
from survey.questionnaire import Problem, Questionnaire, QuestionnaireError
from survey.questionnaire.files import read_any
from survey.surveys import StratumSpec, SurveyError, create_survey, read_strata_csv, store_questionnaire
from survey.vocabulary import SurveyStatus

SWITCHABLE = {"start": (SurveyStatus.DRAFT, SurveyStatus.PAUSED), "pause": (SurveyStatus.ACTIVE,)}


class SurveyChangeError(Refused):
    pass


def _upload_dir(filename: str, data: bytes) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    folder = tempfile.TemporaryDirectory(prefix="minyi-upload-")
    name = Path(filename).name
    path = Path(folder.name) / (name if name not in ("", ".", "..") else "upload")  # ".." would be the parent
    path.write_bytes(data)
    return folder, path


def parse_questionnaire(filename: str, data: bytes) -> Questionnaire:
    """Validate an uploaded YAML or XLSForm file; problems name the file as uploaded."""
    folder, path = _upload_dir(filename, data)
    with folder:
        try:
            return read_any(path, require_consent=True)
        except QuestionnaireError as exc:
            prefix = str(path.parent) + "/"
            raise QuestionnaireError([Problem(p.location.replace(prefix, ""), p.message.replace(prefix, ""))
                                      for p in exc.problems]) from None


def add_questionnaire(session: Session, q: Questionnaire, clock: Clock, user_id: int) -> QuestionnaireRow:
    try:
        row = store_questionnaire(session, q, clock)
    except SurveyError as exc:
        raise SurveyChangeError(str(exc)) from None
    audit.record(session, clock, user_id=user_id, action="questionnaire_stored", entity="questionnaire",
                 entity_id=row.id, after={"qid": row.qid, "version": row.version, "checksum": row.checksum})
    return row


def new_survey(session: Session, clock: Clock, user_id: int, *, code: str, name: str, period: str,
               questionnaire: Questionnaire, quota: int, strata_file: tuple[str, bytes]) -> Survey:
    folder, path = _upload_dir(*strata_file)
    with folder:
        try:
            specs: list[StratumSpec] = read_strata_csv(path)
            survey = create_survey(session, code.strip(), questionnaire, clock, period=period.strip() or code,
                                   strata=specs, quota=quota, name=name.strip())
        except SurveyError as exc:
            raise SurveyChangeError(str(exc).replace(str(path.parent) + "/", "")) from None
    survey.status = SurveyStatus.DRAFT  # the supervisor starts it after loading the sample
    audit.record(session, clock, user_id=user_id, action="survey_created", entity="survey", entity_id=survey.id,
                 after={"code": survey.code, "period": survey.period, "townships": len(specs), "quota": quota})
    return survey


def set_status(session: Session, survey: Survey, action: str, clock: Clock, user_id: int) -> None:
    """``start`` (draft or paused → active) or ``pause`` (active → paused)."""
    if action not in SWITCHABLE or survey.status not in SWITCHABLE[action]:
        raise SurveyChangeError(f"cannot {action} a survey that is {survey.status}")
    before = survey.status
    survey.status = SurveyStatus.ACTIVE if action == "start" else SurveyStatus.PAUSED
    audit.record(session, clock, user_id=user_id, action=f"survey_{action}", entity="survey", entity_id=survey.id,
                 before={"status": before}, after={"status": survey.status})


def set_quotas(session: Session, survey: Survey, quotas: Mapping[str, int], clock: Clock, user_id: int) -> None:
    """New quotas per township code (others unchanged)."""
    if any(v < 0 for v in quotas.values()):
        raise SurveyChangeError("a quota cannot be negative")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for stratum in survey.strata:
        if stratum.code in quotas and quotas[stratum.code] != stratum.quota:
            before[stratum.code], after[stratum.code] = stratum.quota, quotas[stratum.code]
            stratum.quota = quotas[stratum.code]
    if after:
        audit.record(session, clock, user_id=user_id, action="quotas_set", entity="survey", entity_id=survey.id,
                     before=before, after=after)


def parse_ranges(text: str) -> list[str]:
    """``"18:30-21:00, 09:00-12:00"`` → ``["18:30-21:00", "09:00-12:00"]``."""
    return [part.strip() for part in text.replace("，", ",").replace(";", ",").split(",") if part.strip()]


def set_windows(session: Session, survey: Survey, *, weekday: str, weekend: str, clock: Clock,
                user_id: int) -> None:
    """Calling windows for weekdays and weekends (other window settings kept), checked by the dialer's parser."""
    windows = {**(survey.calling_windows or {}), "weekday": parse_ranges(weekday), "weekend": parse_ranges(weekend)}
    DialPolicy.parse(timezone=survey.timezone, calling_windows=windows, holidays=survey.holidays)
    before = dict(survey.calling_windows or {})
    survey.calling_windows = windows
    old, new = audit.changed(before, windows)
    if new:
        audit.record(session, clock, user_id=user_id, action="windows_set", entity="survey", entity_id=survey.id,
                     before=old, after=new)


def set_fieldwork(session: Session, survey: Survey, filename: str, data: bytes, clock: Clock, user_id: int) -> bool:
    """The fieldwork settings of an uploaded file (docs/formats.md), checked whole by the dialer's
    parser before anything is stored; False if they were already the survey's."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SurveyChangeError("%(file)s is not UTF-8 text", file=Path(filename).name) from None
    settings = fieldwork.read(text, [s.code for s in survey.strata], name=Path(filename).name)
    return fieldwork.store(session, survey, settings, clock, user_id)
