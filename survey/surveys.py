"""Creating survey rounds: store the questionnaire version, the townships and their quotas.

``strata`` rows come from a CSV (``code,name_zh,name_en,quota``, docs/formats.md) or from code; a
township's population rows are cells (``{"d_agegrp": "1", "d_sex": "2", "N": ...}``) or margins
(``{"margin": "d_sex", "level": "1", "N": ...}``), named as ``Survey.analysis_spec["weighting"]`` says.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.clock import Clock
from survey.errors import Refused
from survey.models import Questionnaire as QuestionnaireRow
from survey.models import Stratum, Survey
from survey.questionnaire import Questionnaire, checksum
from survey.vocabulary import SurveyStatus


class SurveyError(Refused):
    """A survey that cannot be created as asked, with the reason."""


MAX_QUOTA = 1_000_000
"""The most completes a township's quota may ask for: a bound a typo meets before the database's
integer column does (a quota of 10**20 raised the driver's overflow)."""


@dataclass
class StratumSpec:
    code: str
    name_zh: str
    name_en: str = ""
    quota: int | None = None
    population: list[dict[str, Any]] = field(default_factory=list)
    auxiliary: dict[str, Any] = field(default_factory=dict)


def store_questionnaire(session: Session, questionnaire: Questionnaire, clock: Clock) -> QuestionnaireRow:
    """The stored row for this questionnaire version; a changed text under the same version is an error."""
    digest = checksum(questionnaire.source)
    row = session.scalars(select(QuestionnaireRow).where(
        QuestionnaireRow.qid == questionnaire.id, QuestionnaireRow.version == questionnaire.version)).first()
    if row is None:
        row = QuestionnaireRow(qid=questionnaire.id, version=questionnaire.version, source=questionnaire.source,
                               checksum=digest, created_at=clock.now())
        session.add(row)
        session.flush()
    elif row.checksum != digest:
        raise SurveyError("questionnaire %(qid)s version %(version)s is already stored with different content: "
                          "give the changed questionnaire a new version", qid=questionnaire.id,
                          version=questionnaire.version)
    return row


def create_survey(session: Session, code: str, questionnaire: Questionnaire, clock: Clock, *, period: str,
                  strata: Iterable[StratumSpec], quota: int = 0, name: str = "", issue_no: int | None = None,
                  settings: Mapping[str, Any] | None = None) -> Survey:
    """A new survey round. ``settings`` may hold calling_windows, holidays, retry_policy, pacing,
    timezone, field_start, field_end (formats: dialer.policy)."""
    if session.scalars(select(Survey).where(Survey.code == code)).first() is not None:
        raise SurveyError("survey %(code)r already exists", code=code)
    specs = list(strata)
    if not specs:
        raise SurveyError("a survey needs at least one township (stratum)")
    dupes = sorted({s.code for s in specs if sum(1 for t in specs if t.code == s.code) > 1})
    if dupes:
        raise SurveyError("township code(s) listed twice: %(codes)s", codes=", ".join(dupes))
    row = store_questionnaire(session, questionnaire, clock)
    survey = Survey(code=code, name=name or questionnaire.title.get("zh", code), period=period, issue_no=issue_no,
                    questionnaire_id=row.id, status=SurveyStatus.ACTIVE, languages=list(questionnaire.languages),
                    default_quota=quota, created_at=clock.now(), **dict(settings or {}))
    session.add(survey)
    session.flush()
    for s in specs:
        session.add(Stratum(survey_id=survey.id, code=s.code, name_zh=s.name_zh, name_en=s.name_en,
                            quota=quota if s.quota is None else s.quota, population=s.population,
                            auxiliary=s.auxiliary))
    session.flush()
    return survey


def survey_by_code(session: Session, code: str) -> Survey:
    survey = session.scalars(select(Survey).where(Survey.code == code)).first()
    if survey is None:
        raise SurveyError("no survey %(code)r", code=code)
    return survey


_PARSING = Lock()


def survey_questionnaire(survey: Survey) -> Questionnaire:
    """The validated questionnaire a survey was created with, parsed once per process.

    Once even when many threads ask at once: an app that starts while calls are answered (a
    restarted ``minyi ari``, a web server's threads) asks from every thread at the same moment,
    and a cache that lets each miss parse had 15 threads parsing one questionnaire together
    (about 0.1 s of CPU each) while every call waited for the interpreter."""
    row = survey.questionnaire
    with _PARSING:
        return _parsed(row.source, f"{row.qid} v{row.version}")


@lru_cache(maxsize=32)
def _parsed(source: str, name: str) -> Questionnaire:
    from survey.questionnaire import loads

    return loads(source, name=name)


def read_strata_csv(path: Path) -> list[StratumSpec]:
    """Townships from CSV: ``code,name_zh[,name_en][,quota]``. The older form with population columns
    (``...,<variable>...,N``, one row per cell with the township columns repeated) is still read;
    ``reports.survey_inputs`` checks those columns as it checks a ``--population`` file."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except UnicodeDecodeError:
        raise SurveyError("%(file)s: not UTF-8 text", file=str(path)) from None
    if not rows:
        raise SurveyError("%(file)s: no townships", file=str(path))
    missing = {"code", "name_zh"} - set(rows[0])
    if missing:
        raise SurveyError("%(file)s: missing column(s) %(columns)s", file=str(path), columns=", ".join(sorted(missing)))
    specs: dict[str, StratumSpec] = {}
    for line, r in enumerate(rows, start=2):
        spec = specs.setdefault(r["code"], StratumSpec(r["code"], r["name_zh"], r.get("name_en") or ""))
        if r.get("quota"):
            spec.quota = _int(r["quota"], path, line, "quota", MAX_QUOTA)
        if r.get("N"):
            cell = {k: r[k] for k in r if k not in ("code", "name_zh", "name_en", "quota", "N") and r[k]}
            spec.population.append({**cell, "N": _int(r["N"], path, line, "N")})
    return list(specs.values())


def _int(text: str, path: Path, line: int, column: str, most: int = 2**31 - 1) -> int:
    """A whole number from 0 to ``most`` (by default the largest a database integer column holds)."""
    try:
        value = int(text)
    except ValueError:
        raise SurveyError("%(file)s:%(line)s: column %(column)s: %(value)r is not a whole number", file=str(path),
                          line=line, column=column, value=text) from None
    if value < 0:
        raise SurveyError("%(file)s:%(line)s: column %(column)s: %(value)s is negative", file=str(path), line=line,
                          column=column, value=value)
    if value > most:
        raise SurveyError("%(file)s:%(line)s: column %(column)s: %(value)s is more than %(most)s", file=str(path),
                          line=line, column=column, value=value, most=most)
    return value
