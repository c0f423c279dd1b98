"""Supervisor changes to a survey round: questionnaire upload, creation, quotas, calling windows,
the fieldwork settings file, and starting or pausing the dialer. All audited."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dialer import fieldwork
from dialer.policy import DialPolicy
from reports.results import missing_inputs
from reports.survey_inputs import replace_survey_inputs, settings_for_new_survey
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Questionnaire as QuestionnaireRow
from survey.models import Survey
from survey.questionnaire import Problem, Questionnaire, QuestionnaireError
from survey.questionnaire.files import read_any
from survey.surveys import (
    MAX_QUOTA,
    StratumSpec,
    SurveyError,
    create_survey,
    read_strata_csv,
    store_questionnaire,
)
from survey.vocabulary import SurveyStatus

MAX_SETTINGS_BYTES = 256 * 1024
"""The largest questionnaire, index definitions or fieldwork file an upload may be (the bundled
questionnaire is 14 KiB; 256 KiB is some 400 questions). Their YAML parsers are pure Python: at
this size the worst document costs ~13 s and 340 MB to refuse, where a 4 MiB one took 263 s of CPU
and 2.5 GB in the request. The upload limit (``MINYI_UPLOAD_MAX_MB``) is sized for sample frames."""
MAX_NAME_BYTES = 200
SWITCHABLE = {"start": (SurveyStatus.DRAFT, SurveyStatus.PAUSED), "pause": (SurveyStatus.ACTIVE,)}


class SurveyChangeError(Refused):
    pass


def _file_name(filename: str) -> str:
    """An uploaded file's name as a file in a folder of the upload's own: no folders, no ".."
    (the parent), no NUL and not past the file system's 255 bytes (either would be a 500)."""
    name = Path(filename.replace("\0", "")).name
    while len(name.encode()) > MAX_NAME_BYTES:
        name = name[1:]  # keep the end: the extension says how to read the file
    return name if name not in ("", ".", "..") else "upload"


def _upload_dir(filename: str, data: bytes) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    folder = tempfile.TemporaryDirectory(prefix="minyi-upload-")
    path = Path(folder.name) / _file_name(filename)
    path.write_bytes(data)
    return folder, path


def _small_enough(filename: str, data: bytes) -> None:
    """Refuse a settings file over :data:`MAX_SETTINGS_BYTES` before anything parses it."""
    if len(data) > MAX_SETTINGS_BYTES:
        raise SurveyChangeError("%(file)s is %(kib)d KiB: a questionnaire, index definitions or fieldwork file may "
                                "be at most %(limit)d KiB", file=Path(filename).name, kib=len(data) // 1024,
                                limit=MAX_SETTINGS_BYTES // 1024)


def parse_questionnaire(filename: str, data: bytes) -> Questionnaire:
    """Validate an uploaded YAML or XLSForm file; problems name the file as uploaded."""
    try:
        _small_enough(filename, data)
    except SurveyChangeError as exc:
        raise QuestionnaireError([Problem(Path(filename).name, str(exc))]) from None
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
               questionnaire: Questionnaire, quota: int, strata_file: tuple[str, bytes],
               population_file: tuple[str, bytes] | None = None,
               indices_file: tuple[str, bytes] | None = None) -> Survey:
    """A new round from uploaded files, checked as ``minyi survey create`` checks them (the same
    parsers); nothing is stored when any file has a problem, which names the file as uploaded."""
    if indices_file is not None:
        _small_enough(*indices_file)
    with _uploads(strata=strata_file, population=population_file, indices=indices_file) as paths:
        try:
            specs: list[StratumSpec] = read_strata_csv(paths["strata"])
            analysis_spec = settings_for_new_survey(questionnaire, specs, Path(strata_file[0]).name,
                                                    paths.get("population"), paths.get("indices"))
            survey = create_survey(session, code.strip(), questionnaire, clock, period=period.strip() or code,
                                   strata=specs, quota=quota, name=name.strip(),
                                   settings={"analysis_spec": analysis_spec})
        except SurveyError as exc:
            raise _as_uploaded(exc, paths) from None
    survey.status = SurveyStatus.DRAFT  # the supervisor starts it after loading the sample
    audit.record(session, clock, user_id=user_id, action="survey_created", entity="survey", entity_id=survey.id,
                 after={"code": survey.code, "period": survey.period, "townships": len(specs), "quota": quota,
                        "missing": missing_inputs(survey)})
    return survey


def set_analysis_inputs(session: Session, survey: Survey, clock: Clock, user_id: int, *,
                        population_file: tuple[str, bytes] | None, indices_file: tuple[str, bytes] | None
                        ) -> list[str]:
    """Replace the round's population counts and/or index definitions from uploaded files, checked
    as ``minyi survey set`` checks them; returns what changed."""
    if population_file is None and indices_file is None:
        raise SurveyChangeError("choose a population file, an index definitions file, or both")
    if indices_file is not None:
        _small_enough(*indices_file)
    names = [Path(f[0]).name for f in (population_file, indices_file) if f is not None]
    with _uploads(population=population_file, indices=indices_file) as paths:
        try:
            return replace_survey_inputs(session, survey, clock, user_id, paths.get("population"),
                                         paths.get("indices"), names)
        except SurveyError as exc:
            raise _as_uploaded(exc, paths) from None


@contextmanager
def _uploads(**files: tuple[str, bytes] | None) -> Iterator[dict[str, Path]]:
    """Each uploaded file under its own name, in a folder of its own (two uploads may share a name)."""
    with tempfile.TemporaryDirectory(prefix="minyi-upload-") as root:
        paths = {}
        for kind, upload in files.items():
            if upload is not None:
                path = Path(root) / kind / _file_name(upload[0])
                path.parent.mkdir()
                path.write_bytes(upload[1])
                paths[kind] = path
        yield paths


def _as_uploaded(exc: SurveyError, paths: Mapping[str, Path]) -> SurveyChangeError:
    """``exc`` with the uploads' temporary folders taken out of its message and values."""

    def clean(value: object) -> object:
        if not isinstance(value, str):
            return value
        for path in paths.values():
            value = value.replace(f"{path.parent}/", "")
        return value

    error = SurveyChangeError(exc.message, **{k: clean(v) for k, v in exc.values.items()})
    error.args = (clean(str(exc)),)
    return error


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
    if any(v > MAX_QUOTA for v in quotas.values()):
        raise SurveyChangeError("a quota cannot be more than %(most)s", most=MAX_QUOTA)
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
    _small_enough(filename, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SurveyChangeError("%(file)s is not UTF-8 text", file=Path(filename).name) from None
    settings = fieldwork.read(text, [s.code for s in survey.strata], name=Path(filename).name)
    return fieldwork.store(session, survey, settings, clock, user_id)
