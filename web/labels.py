"""What the stored vocabulary (``survey/vocabulary.py`` and the questionnaire's fixed words) is
called on a page, in both languages, in one place.

The database holds ``follow_up``, ``refusal_conversion`` or ``no-answer``; people read 待人工跟进,
拒访转化 and 无人接听. Each group maps every value of one vocabulary to an English message id that
the one catalogue (:mod:`web.translations_zh`) translates; templates call ``term(group, value)``.
A value missing from its group is shown as it is stored (tests/web/test_labels.py checks that no
group misses a value of its StrEnum)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from survey.questionnaire import model as qm
from survey.vocabulary import (
    CONCERN_ZH,
    AnswerStatus,
    AttemptStatus,
    CallStatus,
    CaseStatus,
    ConcernStatus,
    InterviewMode,
    InterviewStatus,
    Role,
    StaffCallEnd,
    StaffCallState,
    SurveyStatus,
    TaskKind,
    TaskStatus,
)
from web.i18n import language

ROLES: dict[str, Any] = {Role.ADMIN: _l("Administrator"), Role.SUPERVISOR: _l("Supervisor"),
                         Role.INTERVIEWER: _l("Interviewer"), Role.TRANSCRIBER: _l("Transcriber"),
                         Role.OFFICIAL: _l("Official"), Role.UNIT: _l("Responsible unit")}
SURVEY_STATUSES: dict[str, Any] = {SurveyStatus.DRAFT: _l("Draft"), SurveyStatus.ACTIVE: _l("Active"),
                                   SurveyStatus.PAUSED: _l("Paused"), SurveyStatus.CLOSED: _l("Closed")}
CASE_STATUSES: dict[str, Any] = {
    CaseStatus.NEW: _l("Not called yet"), CaseStatus.SCHEDULED: _l("Waiting for the next call"),
    CaseStatus.LEASED: _l("Being dialled"), CaseStatus.CALLBACK: _l("Callback booked"),
    CaseStatus.FOLLOW_UP: _l("With an interviewer"), CaseStatus.FINAL: _l("Finished"),
    CaseStatus.HELD: _l("Not released")}
INTERVIEW_STATUSES: dict[str, Any] = {
    InterviewStatus.IN_PROGRESS: _l("Under way"), InterviewStatus.PARTIAL: _l("Stopped part-way"),
    InterviewStatus.COMPLETE: _l("Complete"), InterviewStatus.REFUSED: _l("Refusal"),
    InterviewStatus.SCREENED_OUT: _l("Not eligible"), InterviewStatus.OPTED_OUT: _l("Never call again"),
    InterviewStatus.OPERATOR: _l("Asked for a person"), InterviewStatus.CALLBACK: _l("Asked to be called back"),
    InterviewStatus.BREAK_OFF: _l("Broke off")}
ANSWER_STATUSES: dict[str, Any] = {AnswerStatus.ANSWERED: _l("answered"), AnswerStatus.NO_ANSWER: _l("no usable key"),
                                   AnswerStatus.SKIPPED: _l("skipped")}
ATTEMPT_STATUSES: dict[str, Any] = {
    AttemptStatus.QUEUED: _l("Queued"), AttemptStatus.INITIATED: _l("Dialling"), AttemptStatus.RINGING: _l("Ringing"),
    AttemptStatus.IN_PROGRESS: _l("On the line"), AttemptStatus.COMPLETED: _l("Ended"), AttemptStatus.BUSY: _l("Busy"),
    AttemptStatus.NO_ANSWER: _l("No answer"), AttemptStatus.FAILED: _l("Failed"),
    AttemptStatus.CANCELED: _l("Cancelled"), AttemptStatus.UNKNOWN: _l("Lost track of the call")}
CALL_OUTCOMES: dict[str, Any] = {
    **INTERVIEW_STATUSES,
    CallStatus.ANSWERED: _l("Answered"), CallStatus.BUSY: _l("Busy"), CallStatus.NO_ANSWER: _l("No answer"),
    CallStatus.MACHINE: _l("Answering machine"), CallStatus.FAX: _l("Fax"),
    CallStatus.NON_WORKING: _l("Number not in service"), CallStatus.FAILED: _l("Failed"),
    CallStatus.CANCELED: _l("Cancelled"), CallStatus.UNKNOWN: _l("Lost track of the call"),
    "hangup": _l("Hung up before the questions"), "machine_household": _l("Answering machine (household)"),
    "revisit": _l("Revisit (回访)")}
CONSOLE_OUTCOMES: dict[str, Any] = {  # what an interviewer records at the end of a call (calls.staff)
    "complete": _l("Complete"), "partial": _l("Stopped part-way (resume later)"),
    "callback": _l("Call back later"), "refusal": _l("Refusal"), "screened_out": _l("Not eligible"),
    "opt_out": _l("Never call again"), "no_answer": _l("No answer / nobody home"), "busy": _l("Busy"),
    "machine": _l("Answering machine"), "non_working": _l("Number not in service"),
    "failed": _l("Call failed (network)")}
TASK_KINDS: dict[str, Any] = {
    TaskKind.OPERATOR: _l("Asked for a person"), TaskKind.PARTIAL: _l("Partial interview"),
    TaskKind.CALLBACK: _l("Callback due"), TaskKind.REFUSAL_CONVERSION: _l("Refusal conversion"),
    TaskKind.REVISIT: _l("Revisit (回访)"), TaskKind.F2F_VISIT: _l("Door-to-door visit")}
TASK_STATUSES: dict[str, Any] = {TaskStatus.OPEN: _l("Waiting"), TaskStatus.IN_PROGRESS: _l("Taken"),
                                 TaskStatus.DONE: _l("Done"), TaskStatus.CANCELLED: _l("Cancelled")}
MODES: dict[str, Any] = {InterviewMode.IVR: _l("Automated call (IVR)"), InterviewMode.CATI: _l("Telephone (CATI)"),
                         InterviewMode.F2F: _l("Door-to-door (F2F)")}
CHANNELS: dict[str, Any] = {**MODES, "simulated": _l("Simulated calls"), "twilio": _l("Twilio"),
                            "asterisk": _l("Asterisk")}
QUESTION_TYPES: dict[str, Any] = {
    qm.SINGLE: _l("one answer"), qm.MULTIPLE: _l("several answers"), qm.NUMBER: _l("a number"),
    qm.YESNO: _l("yes or no"), qm.OPEN: _l("open answer (recorded)"), qm.MESSAGE: _l("message only")}
QUESTION_ROLES: dict[str, Any] = {"weighting": _l("used for weighting"), "consent": _l("consent"),
                                  "screening": _l("screening")}
ENDINGS: dict[str, Any] = {qm.END_REFUSED: _l("Refusal"), qm.END_SCREENED_OUT: _l("Not eligible"),
                           qm.END_OPTED_OUT: _l("Never call again"), qm.END_CALLBACK: _l("Asked to be called back")}
CONCERN_EN: dict[str, str] = {ConcernStatus.RECEIVED: "Received", ConcernStatus.ASSIGNED: "Assigned",
                              ConcernStatus.IN_PROGRESS: "In progress", ConcernStatus.RESOLVED: "Resolved",
                              ConcernStatus.REVISITED: "Revisited"}
AUDIT_ACTIONS: dict[str, Any] = {
    "login": _l("Logged in"), "login_failed": _l("Failed login"), "logout": _l("Logged out"),
    "download": _l("Download"), "user_created": _l("Account created"), "user_updated": _l("Account changed"),
    "password_set": _l("Password set"), "unit_created": _l("Unit created"), "survey_created": _l("Survey created"),
    "questionnaire_stored": _l("Questionnaire stored"), "sample_imported": _l("Sample imported"),
    "quotas_set": _l("Quotas set"), "windows_set": _l("Calling windows set"),
    "fieldwork_set": _l("Fieldwork settings set"), "survey_start": _l("Dialer started"),
    "survey_pause": _l("Dialer paused"),
    "disposition_recorded": _l("Outcome recorded"), "disposition_changed": _l("Disposition changed"),
    "answer_edited": _l("Answer corrected"), "answers_cleared": _l("Answers cleared"),
    "callback_set": _l("Callback booked"), "transcription_saved": _l("Transcription saved"),
    "concern_received": _l("Concern registered"), "concern_assign": _l("Assigned (交办)"),
    "concern_start": _l("Handling started (办理)"), "concern_note": _l("Handling recorded"),
    "concern_resolve": _l("Resolved (办结)"), "concern_revisit": _l("Revisit (回访)"),
    "phone_keys_rotation_started": _l("Phone key rotation started"), "phone_keys_rotated": _l("Phone keys rotated"),
    "staff_call_placed": _l("Call placed for staff"), "staff_call_hung_up": _l("Staff call hung up"),
    "staff_call_ended": _l("Staff call ended"), "staff_call_listened": _l("Listened in on a staff call"),
    "staff_call_policy_set": _l("Staff-call settings set")}
STAFF_CALL_STATES: dict[str, Any] = {
    StaffCallState.PLACED: _l("Your phone is ringing"), StaffCallState.STAFF_ANSWERED: _l("Dialling the resident"),
    StaffCallState.RINGING: _l("The resident's phone is ringing"), StaffCallState.TALKING: _l("Talking"),
    StaffCallState.ENDED: _l("Call ended")}
STAFF_CALL_ENDS: dict[str, Any] = {
    StaffCallEnd.COMPLETED: _l("hung up after talking"), StaffCallEnd.BUSY: _l("the line was busy"),
    StaffCallEnd.NO_ANSWER: _l("nobody answered"), StaffCallEnd.NON_WORKING: _l("the number is not in service"),
    StaffCallEnd.FAILED: _l("the call failed"), StaffCallEnd.STAFF_UNANSWERED: _l("your phone did not answer"),
    StaffCallEnd.CANCELLED: _l("hung up before the resident answered")}
STAFF_CALL_PROVIDERS: dict[str, Any] = {"": _l("None: interviewers dial by hand"), "asterisk": _l("Asterisk"),
                                        "twilio": _l("Twilio")}
ENTITIES: dict[str, Any] = {
    "case": _l("case"), "concern": _l("concern"), "interview": _l("interview"), "phone_keys": _l("phone keys"),
    "questionnaire": _l("questionnaire"), "recording": _l("recording"), "survey": _l("survey"), "unit": _l("unit"),
    "user": _l("account"), "bulletin": _l("bulletin"), "export": _l("answers export"),
    "staff_call": _l("staff call"), "staff_call_policy": _l("staff-call settings")}

GROUPS: dict[str, dict[str, Any]] = {
    "role": ROLES, "survey": SURVEY_STATUSES, "case": CASE_STATUSES, "interview": INTERVIEW_STATUSES,
    "answer": ANSWER_STATUSES, "attempt": ATTEMPT_STATUSES, "outcome": CALL_OUTCOMES, "task": TASK_KINDS,
    "task_status": TASK_STATUSES, "mode": MODES, "channel": CHANNELS, "question_type": QUESTION_TYPES, "question_role": QUESTION_ROLES,
    "ending": ENDINGS, "action": AUDIT_ACTIONS, "entity": ENTITIES, "staff_call": STAFF_CALL_STATES,
    "staff_call_end": STAFF_CALL_ENDS, "staff_call_provider": STAFF_CALL_PROVIDERS}


def term(group: str, value: str | None) -> str:
    """The name of ``value`` of the vocabulary ``group`` in the page language (unknown values as stored)."""
    if not value:
        return ""
    if group == "concern":
        return concern_status(value)
    return str(GROUPS[group].get(value, value))


def concern_status(status: str) -> str:
    """Concern statuses have fixed Chinese names (受理, 交办 ...) shared with the bulletins."""
    return CONCERN_ZH.get(status, status) if language() == "zh" else CONCERN_EN.get(status, status)


def terms(group: str) -> dict[str, str]:
    """Every value of a group with its name (for selects and the live view's script)."""
    return {value: str(text) for value, text in GROUPS[group].items()}
