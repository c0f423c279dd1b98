"""Importing a sample frame into a survey: validate every row, normalise numbers to E.164, drop
duplicates and do-not-call numbers, store numbers encrypted, and cut replicates per township.

A frame with any bad row imports nothing (every bad row is reported with its reason) unless the
caller asks to skip bad rows; either way the import is one transaction of the caller's. Numbers
of another country and special-service numbers are bad rows unless the caller admits them.
Replicates: with ``replicate_size`` each township's new cases are shuffled and cut into
replicates of that size; only the first is released at once (when the township has no released
case yet), the dialer releases the next ones as they are needed (quotas.release_replicates).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dialer.dnc import listed
from dialer.frames import Frame, FrameError, FrameRow
from survey.models import Case, Contact, Stratum, Survey
from survey.phones import PhoneError, PhoneProblem, PhoneVault, normalise
from survey.vocabulary import CaseStatus

FRAME_KINDS = {"mobile": "mobile", "cell": "mobile", "手机": "mobile", "移动": "mobile",
               "landline": "landline", "fixed": "landline", "固话": "landline", "固定电话": "landline",
               "座机": "landline"}


# ``on_progress(stage, done, total)``: "checking" the rows, then "storing" them: contacts, then
# cases, each counted by the row (``total`` is twice the good rows), a call per INSERT.
Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 10_000  # rows checked between two calls
CHUNK = 5_000  # rows per INSERT: a 200,000-row frame's parameters are never all in memory at once


def _silent(_stage: str, _done: int, _total: int) -> None:
    return None


class RowProblem(StrEnum):
    """Why a row is refused, besides its number (:class:`survey.phones.PhoneProblem`)."""

    TOWNSHIP = "unknown township"
    FRAME = "bad frame type"
    LANGUAGE = "language not in the survey"


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    value: str
    reason: str
    problem: PhoneProblem | RowProblem


@dataclass
class ImportReport:
    encoding: str
    rows: int = 0
    imported: int = 0
    duplicates_in_file: int = 0
    already_in_survey: int = 0
    do_not_call: int = 0
    errors: list[RowError] = field(default_factory=list)  # a row may have several
    rejected_rows: list[FrameRow] = field(default_factory=list)
    by_township: Counter[str] = field(default_factory=Counter)
    released: Counter[str] = field(default_factory=Counter)  # cases released now, per township
    replicates: Counter[str] = field(default_factory=Counter)  # new replicates per township

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)

    def rejected_by_problem(self) -> Counter[PhoneProblem | RowProblem]:
        """Problem -> rows that have it (a row with two problems counts under each)."""
        return Counter(p for _line, p in {(e.line, e.problem) for e in self.errors})

    def reasons(self) -> list[tuple[FrameRow, str]]:
        """Each rejected row with all its reasons in one text."""
        by_line: dict[int, list[str]] = defaultdict(list)
        for e in self.errors:
            by_line[e.line].append(f"{e.column}: {e.reason}")
        return [(row, "; ".join(by_line[row.line])) for row in self.rejected_rows]


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    e164: str
    line_type: str
    stratum: Stratum
    frame: str
    language: str | None
    extra: dict[str, str]


@dataclass(frozen=True)
class NumberRules:
    """How numbers are read: ``region`` for those without +country code; numbers of another
    country and special-service numbers are refused unless admitted."""

    region: str = "CN"
    allow_foreign: bool = False
    allow_service: bool = False

    def normalise(self, raw: str) -> tuple[str, str]:
        return normalise(raw, self.region, allow_foreign=self.allow_foreign, allow_service=self.allow_service)


def import_sample(session: Session, survey: Survey, frame: Frame, vault: PhoneVault, now: datetime, *,
                  numbers: NumberRules | None = None, replicate_size: int | None = None,
                  skip_invalid: bool = False, seed: int | None = None,
                  on_progress: Progress = _silent) -> ImportReport:
    """Add the frame's numbers to ``survey``; the report says what happened to every row."""
    report = ImportReport(encoding=frame.encoding, rows=len(frame.rows))
    if replicate_size is not None and replicate_size < 1:
        raise ValueError("replicate size must be at least 1")
    strata = _strata_lookup(survey)
    if "township" not in frame.columns and len(survey.strata) != 1:
        raise FrameError(f"no township column, and survey {survey.code} has {len(survey.strata)} townships")
    parsed = []
    for n, row in enumerate(frame.rows, start=1):
        item = _parse(row, frame, strata, survey, numbers or NumberRules(), report)
        if item is not None:
            parsed.append(item)
        if n % PROGRESS_EVERY == 0:
            on_progress("checking", n, report.rows)
    if report.errors and not skip_invalid:
        return report
    total = 2 * len(parsed)
    on_progress("storing", 0, total)
    fresh = _dedupe(parsed, report)
    hashes = {r.e164: vault.hash(r.e164) for r in fresh}
    blocked = listed(session, hashes.values())
    report.do_not_call = sum(1 for r in fresh if hashes[r.e164] in blocked)
    fresh = [r for r in fresh if hashes[r.e164] not in blocked]
    contact_ids = _store_contacts(session, fresh, hashes, vault, lambda n: on_progress("storing", n, total))
    in_survey = _cases_in_survey(session, survey.id, list(contact_ids.values()))
    report.already_in_survey = sum(1 for r in fresh if contact_ids[r.e164] in in_survey)
    fresh = [r for r in fresh if contact_ids[r.e164] not in in_survey]
    _store_cases(session, survey, fresh, contact_ids, now, replicate_size, random.Random(seed), report,
                 lambda n: on_progress("storing", len(parsed) + n, total))
    on_progress("storing", total, total)
    return report


def _strata_lookup(survey: Survey) -> dict[str, Stratum]:
    lookup: dict[str, Stratum] = {}
    for s in survey.strata:
        for key in (s.name_en, s.name_zh, s.code):
            if key:
                lookup[key.strip().lower()] = s
    return lookup


def _parse(row: FrameRow, frame: Frame, strata: dict[str, Stratum], survey: Survey, numbers: NumberRules,
           report: ImportReport) -> _Row | None:
    errors = []

    def bad(role: str, reason: str, problem: PhoneProblem | RowProblem) -> None:
        errors.append(RowError(row.line, frame.columns.get(role, role), row.values.get(role, ""), reason, problem))

    e164, line_type = "", "unknown"
    try:
        e164, line_type = numbers.normalise(row.values["number"])
    except PhoneError as exc:
        bad("number", str(exc), exc.problem)
    stratum = survey.strata[0] if "township" not in frame.columns else None
    if stratum is None:
        town = row.values.get("township", "")
        stratum = strata.get(town.strip().lower())
        if stratum is None:
            bad("township", "township is empty" if not town else
                f"unknown township (survey {survey.code} has {', '.join(s.code for s in survey.strata[:8])}"
                f"{', ...' if len(survey.strata) > 8 else ''})", RowProblem.TOWNSHIP)
    kind = row.values.get("frame", "")
    if kind and kind.lower() not in FRAME_KINDS:
        bad("frame", "frame must be mobile or landline (手机 / 固话)", RowProblem.FRAME)
    language = row.values.get("language", "").lower() or None
    if language and language not in survey.languages:
        bad("language", f"the survey speaks {', '.join(survey.languages)}", RowProblem.LANGUAGE)
    if errors or stratum is None:
        report.errors.extend(errors)
        report.rejected_rows.append(row)
        return None
    return _Row(row.line, e164, line_type, stratum, FRAME_KINDS.get(kind.lower(), line_type), language,
                {k: row.values[k] for k in frame.extra if row.values.get(k)})


def _dedupe(rows: list[_Row], report: ImportReport) -> list[_Row]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.e164 in seen:
            report.duplicates_in_file += 1
            continue
        seen.add(r.e164)
        out.append(r)
    return out


def _store_contacts(session: Session, rows: list[_Row], hashes: dict[str, str], vault: PhoneVault,
                    stored: Callable[[int], None]) -> dict[str, int]:
    """Contact ids by E.164, inserting the numbers not stored yet (a number is one contact across
    all surveys, which is how do-not-call and de-duplication see it). A number that another
    import, running at the same time, stores first is taken as it stored it."""
    ids = _contact_ids(session, list(hashes.values()))
    new = [r for r in rows if hashes[r.e164] not in ids]
    for i in range(0, len(new), CHUNK):
        session.execute(_insert_new_contacts(session), [
            vault.contact_row(r.e164, r.line_type, hashes[r.e164]) for r in new[i:i + CHUNK]])
        stored(min(i + CHUNK, len(new)))
    if new:
        ids.update(_contact_ids(session, [hashes[r.e164] for r in new]))
    return {r.e164: ids[hashes[r.e164]] for r in rows}


def _insert_new_contacts(session: Session) -> Insert:
    """INSERT ... ON CONFLICT (number_hash) DO NOTHING, in the session's SQL dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Contact).on_conflict_do_nothing(index_elements=[Contact.number_hash])
    return sqlite.insert(Contact).on_conflict_do_nothing(index_elements=[Contact.number_hash])


def _contact_ids(session: Session, hashes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(0, len(hashes), 500):
        rows = session.execute(select(Contact.number_hash, Contact.id).where(Contact.number_hash.in_(hashes[i:i + 500])))
        found.update((h, i) for h, i in rows)
    return found


def _cases_in_survey(session: Session, survey_id: int, contact_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for i in range(0, len(contact_ids), 500):
        found.update(session.scalars(select(Case.contact_id).where(
            Case.survey_id == survey_id, Case.contact_id.in_(contact_ids[i:i + 500]))).all())
    return found


def _store_cases(session: Session, survey: Survey, rows: list[_Row], contact_ids: dict[str, int], now: datetime,
                 replicate_size: int | None, rng: random.Random, report: ImportReport,
                 stored: Callable[[int], None]) -> None:
    by_stratum: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        by_stratum[r.stratum.id].append(r)
    release_at = max(now, survey.field_start or now)
    values: list[dict[str, Any]] = []
    for stratum_id, group in by_stratum.items():
        last, released_before = session.execute(select(
            func.max(Case.replicate), func.count(Case.id).filter(Case.status != CaseStatus.HELD))
            .where(Case.stratum_id == stratum_id)).one()
        first = (last or 0) + 1
        if replicate_size is not None:
            rng.shuffle(group)
        size = replicate_size or len(group)
        code = group[0].stratum.code
        for i, r in enumerate(group):
            replicate = first + i // size
            release = replicate_size is None or (replicate == first and not released_before)
            values.append({
                "survey_id": survey.id, "stratum_id": stratum_id, "contact_id": contact_ids[r.e164],
                "replicate": replicate, "status": CaseStatus.NEW if release else CaseStatus.HELD,
                "next_attempt_at": release_at if release else None, "language": r.language,
                "frame": {"frame": r.frame, **r.extra},
                "created_at": now, "updated_at": now})
            report.released[code] += int(release)
            if len(values) == CHUNK:
                session.execute(insert(Case), values)
                report.imported += len(values)
                stored(report.imported)
                values = []
        report.by_township[code] += len(group)
        report.replicates[code] = (len(group) + size - 1) // size
    if values:
        session.execute(insert(Case), values)
    report.imported += len(values)
