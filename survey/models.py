"""The storage schema for the whole mission (SQLAlchemy 2 declarative, typed).

Conventions: times are naive UTC; status values are the explicit constants below (RapidPro
style), never free strings; phone numbers live only in ``contacts`` (encrypted, with a keyed hash
for look-ups), apart from cases and answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from survey.vocabulary import (
    AnswerStatus,
    AttemptStatus,
    CaseStatus,
    ConcernStatus,
    InterviewMode,
    InterviewStatus,
    JobStatus,
    StaffCallState,
    SurveyStatus,
    TaskStatus,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _pk() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = _pk()
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    township_scope: Mapped[list[Any] | None] = mapped_column(JSON, default=None)  # stratum codes
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Part of every session's identity (web/access.py): raising it ends all of the account's
    # sessions at once (logout, a new password, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The staff member's own phone for staff-placed calls and listening in (docs/staff-calls.md):
    # an Asterisk endpoint (``PJSIP/1001``) or an E.164 number (a phone Twilio rings); "" = none.
    phone: Mapped[str] = mapped_column(String(80), default="", server_default="")


class Unit(Base):
    """A responsible unit (责任单位), e.g. a police station, that handles residents' concerns."""

    __tablename__ = "units"
    id: Mapped[int] = _pk()
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    township_code: Mapped[str | None] = mapped_column(String(40), default=None)


class Questionnaire(Base):
    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("qid", "version"),)
    id: Mapped[int] = _pk()
    qid: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)  # the YAML as validated
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Survey(Base):
    """A survey round (wave) with its questionnaire, townships, quotas and fieldwork rules."""

    __tablename__ = "surveys"
    id: Mapped[int] = _pk()
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    period: Mapped[str] = mapped_column(String(40))  # e.g. "2026-10"
    issue_no: Mapped[int | None] = mapped_column(Integer, default=None)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    status: Mapped[str] = mapped_column(String(20), default=SurveyStatus.DRAFT)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=lambda: ["zh"])
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    calling_windows: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ISO dates
    retry_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pacing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_quota: Mapped[int] = mapped_column(Integer, default=0)
    analysis_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # indices + weighting map
    field_start: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    field_end: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    questionnaire: Mapped[Questionnaire] = relationship()
    strata: Mapped[list[Stratum]] = relationship(back_populates="survey", order_by="Stratum.code")


class Stratum(Base):
    """A township (乡镇/街道) in one survey: its quota and its adult population by weighting cell."""

    __tablename__ = "strata"
    __table_args__ = (UniqueConstraint("survey_id", "code"),)
    id: Mapped[int] = _pk()
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    quota: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"age_group":..,"sex":..,"N":..}]
    auxiliary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # SAE covariates known without error (census urban share), never a past wave's estimate
    survey: Mapped[Survey] = relationship(back_populates="strata")

    @property
    def population_total(self) -> int:
        return int(sum(cell.get("N", 0) for cell in self.population))


class Contact(Base):
    """A phone number, encrypted at rest; ``number_hash`` is a keyed hash for de-duplication."""

    __tablename__ = "contacts"
    id: Mapped[int] = _pk()
    number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    number_masked: Mapped[str] = mapped_column(String(32))
    line_type: Mapped[str] = mapped_column(String(20), default="unknown")  # mobile / landline


class DoNotCall(Base):
    __tablename__ = "do_not_call"
    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(40))  # ivr_opt_out, staff, import
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), default=None)


_LEASED, _NOT_LEASED = text(f"status = '{CaseStatus.LEASED}'"), text(f"status <> '{CaseStatus.LEASED}'")


class Case(Base):
    """One sampled number in one survey, and where it stands in fieldwork."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("survey_id", "contact_id"),
        # the dialer's pick (dialer/picking.py): callbacks per survey, the rest per township. On
        # PostgreSQL the survey's index leaves leased rows out, so that a lease (which changes the
        # status: no HOT update) does not write it, and the leased rows of a survey have their own
        # (migration 0012; SQLite would not use it for a status it cannot match to the predicate).
        # The township's stays whole: the queries by township alone read it
        Index("ix_cases_due", "survey_id", "status", "next_attempt_at", "id", postgresql_where=_NOT_LEASED),
        Index("ix_cases_queue", "stratum_id", "status", "next_attempt_at", "id"),
        Index("ix_cases_leased", "survey_id", postgresql_where=_LEASED, sqlite_where=_LEASED),
    )
    id: Mapped[int] = _pk()
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    stratum_id: Mapped[int] = mapped_column(ForeignKey("strata.id"))  # indexed first in ix_cases_queue
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    replicate: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.NEW)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    callback_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    contacted: Mapped[bool] = mapped_column(Boolean, default=False)  # a person was ever reached
    last_temp_disposition: Mapped[str | None] = mapped_column(String(8), default=None)
    final_disposition: Mapped[str | None] = mapped_column(String(8), default=None)
    final_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    frame: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # extra frame fields
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    stratum: Mapped[Stratum] = relationship()
    contact: Mapped[Contact] = relationship()


class CallAttempt(Base):
    __tablename__ = "call_attempts"
    id: Mapped[int] = _pk()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_call_id: Mapped[str | None] = mapped_column(String(80), unique=True, default=None)
    worker: Mapped[str | None] = mapped_column(String(80), default=None)
    caller_id: Mapped[str | None] = mapped_column(String(40), default=None)
    trunk: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(20), default=AttemptStatus.QUEUED)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(40), default=None)  # provider-level result
    amd_result: Mapped[str | None] = mapped_column(String(40), default=None)
    hangup_cause: Mapped[str | None] = mapped_column(String(40), default=None)
    temp_disposition: Mapped[str | None] = mapped_column(String(8), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    case: Mapped[Case] = relationship()


class Interview(Base):
    __tablename__ = "interviews"
    id: Mapped[int] = _pk()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    questionnaire_version: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(8), default=InterviewMode.IVR)
    status: Mapped[str] = mapped_column(String(20), default=InterviewStatus.IN_PROGRESS)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    consent: Mapped[bool | None] = mapped_column(Boolean, default=None)
    current_question: Mapped[str | None] = mapped_column(String(80), default=None)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # engine snapshot for resume
    interviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    last_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    answers: Mapped[list[Answer]] = relationship(back_populates="interview", order_by="Answer.seq")
    case: Mapped[Case] = relationship()


class Answer(Base):
    """One answer, stored the moment it is given (one row per question per interview)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("interview_id", "question_id"),)
    id: Mapped[int] = _pk()
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=AnswerStatus.ANSWERED)
    code: Mapped[int | None] = mapped_column(Integer, default=None)
    codes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)  # multiple choice
    value: Mapped[float | None] = mapped_column(Float, default=None)  # number questions
    raw_input: Mapped[str] = mapped_column(String(200), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    reprompts: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(8), default=InterviewMode.IVR)
    answered_at: Mapped[datetime] = mapped_column(DateTime)
    interview: Mapped[Interview] = relationship(back_populates="answers")


class Recording(Base):
    """A voice answer of an interview (``interview_id``, ``question_id``), a whole call's recording, or the quality-control
    recording of a staff-placed call (``staff_call_id``, ``question_id`` :data:`QC_RECORDING`,
    with the call's interview when one was open)."""

    __tablename__ = "recordings"
    id: Mapped[int] = _pk()
    # the call that made it; a whole call recorded before any interview opened has no interview
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"), index=True, default=None)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), index=True, default=None)
    question_id: Mapped[str] = mapped_column(String(80))
    path: Mapped[str] = mapped_column(String(500))
    provider_id: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    transcription: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[str | None] = mapped_column(String(60), default=None)
    transcribed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    transcribed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # a recording still at its provider (calls/recordings.py): its media URL and the download's progress
    remote_url: Mapped[str | None] = mapped_column(String(500), default=None)
    download_status: Mapped[str | None] = mapped_column(String(20), default=None, index=True)
    download_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    provider_deleted_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    interview: Mapped[Interview | None] = relationship()
    attempt: Mapped[CallAttempt | None] = relationship()
    staff_call_id: Mapped[int | None] = mapped_column(ForeignKey("staff_calls.id"), default=None, index=True)
    staff_call: Mapped[StaffCall | None] = relationship()

    @property
    def case(self) -> Case:
        """The case called: through the interview, or the call attempt of a call without one."""
        source = self.interview or self.attempt
        assert source is not None, "a recording belongs to an interview or a call attempt"
        return source.case


QC_RECORDING = "_staff_call"  # Recording.question_id of a staff call's quality-control recording


class StaffCall(Base):
    """A call the system placed for an interviewer (calls/staff_lines.py): the staff member's own
    phone first, then the resident, bridged. It belongs to the task's open CATI attempt, so the
    interview conducted on the attempt is tied to it; the times are the call's own."""

    __tablename__ = "staff_calls"
    id: Mapped[int] = _pk()
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("follow_up_tasks.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    provider: Mapped[str] = mapped_column(String(20))  # asterisk / twilio
    staff_endpoint: Mapped[str] = mapped_column(String(80))  # the phone rung first (User.phone then)
    state: Mapped[str] = mapped_column(String(20), default=StaffCallState.PLACED, index=True)
    end: Mapped[str | None] = mapped_column(String(20), default=None)  # StaffCallEnd
    hangup_cause: Mapped[str | None] = mapped_column(String(40), default=None)  # the provider's words
    coded: Mapped[str | None] = mapped_column(String(20), default=None)  # outcome the system coded (busy ...)
    provider_ref: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)  # staff leg
    resident_ref: Mapped[str | None] = mapped_column(String(120), default=None)  # resident leg
    record: Mapped[bool] = mapped_column(Boolean, default=False)  # recorded for quality control
    placed_at: Mapped[datetime] = mapped_column(DateTime)
    staff_answered_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    ringing_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    case: Mapped[Case] = relationship()
    task: Mapped[FollowUpTask] = relationship()
    attempt: Mapped[CallAttempt] = relationship()


class StaffCallPolicy(Base):
    """The centre's staff-call settings, one row (id 1), set by an administrator: which provider
    places staff calls ("" = none: interviewers dial by hand), whether the calls are recorded for
    quality control (the resident hears the questionnaire's ``recording_consent`` message first),
    and whether the console still shows the resident's number as a ``tel:`` link."""

    __tablename__ = "staff_call_policy"
    id: Mapped[int] = _pk()
    provider: Mapped[str] = mapped_column(String(20), default="")
    record: Mapped[bool] = mapped_column(Boolean, default=False)
    tel_fallback: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class FollowUpTask(Base):
    """Work for call-centre staff: operator requests, partials, callbacks, refusal conversion."""

    __tablename__ = "follow_up_tasks"
    id: Mapped[int] = _pk()
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), default=None)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    case: Mapped[Case] = relationship()


class Concern(Base):
    """A resident's concern (群众诉求), followed to resolution and a revisit call (回访)."""

    __tablename__ = "concerns"
    id: Mapped[int] = _pk()
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    stratum_id: Mapped[int] = mapped_column(ForeignKey("strata.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"), default=None)
    category: Mapped[str] = mapped_column(String(60))
    summary: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), default=None)
    status: Mapped[str] = mapped_column(String(20), default=ConcernStatus.RECEIVED)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    revisit_result: Mapped[str | None] = mapped_column(String(40), default=None)  # fixed / not_fixed / unreachable
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    stratum: Mapped[Stratum] = relationship()
    unit: Mapped[Unit | None] = relationship()
    events: Mapped[list[ConcernEvent]] = relationship(order_by="ConcernEvent.id")


class ConcernEvent(Base):
    __tablename__ = "concern_events"
    id: Mapped[int] = _pk()
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime)


class Benchmark(Base):
    """An outside figure (e.g. the province's published index for the county) for the bulletin."""

    __tablename__ = "benchmarks"
    id: Mapped[int] = _pk()
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    index: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer, default=None)
    of_areas: Mapped[int | None] = mapped_column(Integer, default=None)


class AuditLog(Base):
    """Append-only: who changed what, when, before and after. The app never updates or deletes, and
    the database refuses to (triggers of migration 0002)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = _pk()
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class WebhookReply(Base):
    """The TwiML a telephony webhook answered for one step of one call, kept so that a retried or
    duplicated delivery (same call, same step number) gets the same reply and stores nothing twice."""

    __tablename__ = "webhook_replies"
    __table_args__ = (UniqueConstraint("call_sid", "seq"),)
    id: Mapped[int] = _pk()
    call_sid: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # replies are pruned by age


class DialerWorker(Base):
    """A running ``minyi dial`` worker, by its name (the ``lease_owner`` of its cases): its last
    heartbeat, in real time. A worker whose heartbeat is stale, or whose name checks in again
    (restarted), has died: its leases are taken back at once (dialer/workers.py)."""

    __tablename__ = "dialer_workers"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class CaseCount(Base):
    """How many cases of a township are in each status (and final code, ``""`` for none): kept by
    triggers on ``cases`` in the same transaction as every change (migration 0009), so the
    progress views read these rows instead of counting the cases. ``shard`` spreads the counts of
    concurrent transactions over several rows (on PostgreSQL by transaction id, on SQLite always
    0), so that workers never wait on each other's counters; a count is the sum over shards,
    shard -1 included, where the workers' housekeeping folds the others (dialer.counts.fold)."""

    __tablename__ = "case_counts"
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)  # the township's
    stratum_id: Mapped[int] = mapped_column(ForeignKey("strata.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(8), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)


class Job(Base):
    """A background job (jobs/queue.py): what to do (``kind``, ``params``), who asked, and where it
    is. A worker claims a queued job, holds it by renewing ``lease_until`` with its heartbeat and
    writes ``progress`` as it goes; a job whose lease ran out is another worker's to run again."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)
    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), default=None, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    worker: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    stage: Mapped[str] = mapped_column(String(40), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)  # units of the stage done, of ``total``
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # {"message": id, "values": {...}}


class JobFile(Base):
    """A file a job reads (``role`` "upload") or makes (e.g. "rejected"), kept in the database so
    that any worker on any machine can run the job and the page can offer the result later."""

    __tablename__ = "job_files"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
