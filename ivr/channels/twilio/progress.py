"""A call's end, from Twilio's final status callback, as a :class:`CallResult`.

Status callbacks may arrive late, twice or out of order (``ringing`` after ``in-progress``):
progress moves an attempt forward only (``dialer.attempts.advance``), and the end is
handed once to ``dialer.outcomes.apply_result``, which is idempotent as well.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dialer.protocol import CallResult
from ivr.channels.twilio.params import FAX
from survey.models import CallAttempt
from survey.vocabulary import ATTEMPT_ENDED, AttemptStatus, CallStatus

TERMINAL: dict[str, CallStatus] = {
    AttemptStatus.BUSY: CallStatus.BUSY, AttemptStatus.NO_ANSWER: CallStatus.NO_ANSWER,
    AttemptStatus.FAILED: CallStatus.FAILED, AttemptStatus.CANCELED: CallStatus.CANCELED,
    AttemptStatus.COMPLETED: CallStatus.ANSWERED,
}
NON_WORKING_SIP = frozenset({"404", "410", "484", "604"})  # not found, gone, address incomplete, nowhere
NO_AGENT = "no_agent"  # one of dialer.pacer.ABANDON_CAUSES


def is_over(status: str) -> bool:
    """An attempt of this status has its result in. A reconciled ``unknown`` attempt has not: its
    call may still be alive, and its real result replaces the reconciled one."""
    return status in ATTEMPT_ENDED and status != AttemptStatus.UNKNOWN


def call_result(attempt: CallAttempt, status: str, now: datetime, *, call_sid: str, interview_status: str | None,
                machine_verdict: str | None, sip_code: str | None, duration_s: float | None,
                callback_at: datetime | None, no_agent: bool) -> CallResult:
    """The result of a call that ended with the final Twilio ``status``. ``machine_verdict`` is
    the AMD verdict when it was a machine or fax that answered (nobody took part); ``no_agent``
    says that a transfer to the operator found nobody (an abandoned call, for the pacer)."""
    kind = TERMINAL[status]
    if kind == CallStatus.ANSWERED and machine_verdict is not None:
        kind = CallStatus.FAX if machine_verdict == FAX else CallStatus.MACHINE
    elif kind == CallStatus.FAILED and sip_code in NON_WORKING_SIP:
        kind = CallStatus.NON_WORKING
    answered_at = attempt.answered_at
    if answered_at is None and status == AttemptStatus.COMPLETED and duration_s is not None:
        answered_at = now - timedelta(seconds=duration_s)
    return CallResult(
        kind, attempt.started_at, now, answered_at=answered_at, provider_call_id=call_sid,
        amd_result=attempt.amd_result,
        hangup_cause=NO_AGENT if no_agent else f"SIP {sip_code}" if sip_code else None,
        interview_status=interview_status if kind == CallStatus.ANSWERED else None, callback_at=callback_at,
        error=f"SIP {sip_code}" if kind in (CallStatus.FAILED, CallStatus.NON_WORKING) and sip_code else None)
