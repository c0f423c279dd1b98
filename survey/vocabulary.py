"""The vocabulary: every status, outcome, kind and role that is stored or passed between layers,
as plain ``StrEnum`` constants (RapidPro style), free of SQLAlchemy so that the pure interview
engine, the dialer and analysis can use them. A member equals its string value, which is what the
database holds."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    INTERVIEWER = "interviewer"
    TRANSCRIBER = "transcriber"
    OFFICIAL = "official"
    UNIT = "unit"


class SurveyStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"


class CaseStatus(StrEnum):
    NEW = "new"  # released, never dialled
    SCHEDULED = "scheduled"  # waiting for next_attempt_at
    LEASED = "leased"  # a worker holds it (lease_owner, lease_expires_at)
    CALLBACK = "callback"  # a resident or staff member set callback_at
    FOLLOW_UP = "follow_up"  # with staff (operator request, partial, refusal conversion)
    FINAL = "final"  # final_disposition set
    HELD = "held"  # not released yet (replicates)


class InterviewMode(StrEnum):
    IVR = "ivr"
    CATI = "cati"
    F2F = "f2f"


class InterviewStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    PARTIAL = "partial"  # dropped mid-way; resumable
    COMPLETE = "complete"
    REFUSED = "refused"
    SCREENED_OUT = "screened_out"
    OPTED_OUT = "opted_out"
    OPERATOR = "operator"  # asked for a person; resumes in CATI
    CALLBACK = "callback"  # asked to be called back before the questions began
    BREAK_OFF = "break_off"  # final break-off


class AnswerStatus(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # re-prompts exhausted
    SKIPPED = "skipped"


class AttemptStatus(StrEnum):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"  # worker died mid-call; reconciled


class TaskKind(StrEnum):
    OPERATOR = "operator_request"
    PARTIAL = "partial"
    CALLBACK = "callback"
    REFUSAL_CONVERSION = "refusal_conversion"
    REVISIT = "revisit"  # 回访 of a resolved concern
    F2F_VISIT = "f2f_visit"  # a door-to-door visit (入户走访) entered by an interviewer


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class ConcernStatus(StrEnum):
    RECEIVED = "received"  # 受理
    ASSIGNED = "assigned"  # 交办
    IN_PROGRESS = "in_progress"  # 办理中
    RESOLVED = "resolved"  # 已办结
    REVISITED = "revisited"  # 已回访


class CallStatus(StrEnum):
    """What the network said about a call attempt (provider-neutral)."""

    ANSWERED = "answered"  # a person (or unknown) answered; see interview_status
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"  # answering machine / voicemail detected
    FAX = "fax"
    NON_WORKING = "non_working"  # number does not exist / disconnected
    FAILED = "failed"  # network or provider failure, number may be fine
    CANCELED = "canceled"
    UNKNOWN = "unknown"  # the worker lost track of the call (crash); reconciled later


class RecordingDownload(StrEnum):
    """Where a recording still at its provider (Twilio) is on its way home; NULL for a recording
    the channel stored itself (simulated, Asterisk)."""

    PENDING = "pending"  # to download (again) at next_attempt_at
    STORED = "stored"  # in recordings_dir, checked
    FAILED = "failed"  # every attempt failed; an administrator may try again


class StaffCallState(StrEnum):
    """A staff-placed call (calls/staff_lines.py), in the order it moves: the staff member's phone
    rings first, then the resident's; both talking means bridged."""

    PLACED = "placed"  # the provider took the request; the staff member's phone rings
    STAFF_ANSWERED = "staff_answered"  # the staff member picked up; the resident is being dialled
    RINGING = "ringing"  # the resident's phone rings
    TALKING = "talking"  # the resident answered: bridged
    ENDED = "ended"


class StaffCallEnd(StrEnum):
    """How a staff call ended, as the channel adapter reports it. BUSY, NO_ANSWER, NON_WORKING and FAILED
    are coded onto the task's call by the system; the others leave the outcome to the interviewer."""

    COMPLETED = "completed"  # the resident answered and the call ended afterwards
    BUSY = "busy"  # the resident's line was busy
    NO_ANSWER = "no_answer"  # the resident's phone rang out
    NON_WORKING = "non_working"  # the resident's number does not exist
    FAILED = "failed"  # the resident's leg failed (network, provider)
    STAFF_UNANSWERED = "staff_unanswered"  # the staff member's own phone did not answer
    CANCELLED = "cancelled"  # hung up from the console (or by staff) before the resident answered


STAFF_CALL_LIVE = (StaffCallState.PLACED, StaffCallState.STAFF_ANSWERED, StaffCallState.RINGING,
                   StaffCallState.TALKING)


ROLES: tuple[Role, ...] = tuple(Role)
ATTEMPT_ORDER = (AttemptStatus.QUEUED, AttemptStatus.INITIATED, AttemptStatus.RINGING, AttemptStatus.IN_PROGRESS,
                 AttemptStatus.COMPLETED)
"""An attempt moves only forward along these (a late 'ringing' never undoes 'in-progress')."""
ATTEMPT_ENDED = (AttemptStatus.COMPLETED, AttemptStatus.BUSY, AttemptStatus.NO_ANSWER, AttemptStatus.FAILED,
                 AttemptStatus.CANCELED, AttemptStatus.UNKNOWN)
CONCERN_ORDER: tuple[ConcernStatus, ...] = tuple(ConcernStatus)
CONCERN_ZH: dict[str, str] = {ConcernStatus.RECEIVED: "受理", ConcernStatus.ASSIGNED: "交办", ConcernStatus.IN_PROGRESS: "办理中",
              ConcernStatus.RESOLVED: "已办结", ConcernStatus.REVISITED: "已回访"}
CALL_STATUSES: tuple[CallStatus, ...] = tuple(CallStatus)
RESUMABLE = (InterviewStatus.IN_PROGRESS, InterviewStatus.PARTIAL, InterviewStatus.OPERATOR)
"""Interviews that stopped part-way and go on at the next call."""


class JobStatus(StrEnum):
    """A background job's state (jobs/queue.py): queued → running → done or failed; a running job
    whose worker stopped renewing its lease goes back to queued (or to failed after its last try)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
