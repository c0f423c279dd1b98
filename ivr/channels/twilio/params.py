"""What Twilio posts, read and checked: request fields → engine events and call facts.

Every reader raises :class:`WebhookError` with the HTTP status and a message naming the field, so
a malformed delivery gets a 400 that says what is wrong, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ivr.engine import Digits, RecordingDone, Timeout
from survey.vocabulary import ATTEMPT_ORDER, AttemptStatus

CALL_STATUSES = (*ATTEMPT_ORDER, AttemptStatus.BUSY, AttemptStatus.NO_ANSWER, AttemptStatus.FAILED,
                 AttemptStatus.CANCELED)  # Twilio's CallStatus values, the same words as AttemptStatus
HUMAN, UNKNOWN = "human", "unknown"
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other")
FAX = "fax"
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
ANSWERED_BY = (HUMAN, UNKNOWN, *MACHINE, FAX)

_KEYS = re.compile(r"[0-9*#]*")
_SID = re.compile(r"[A-Za-z0-9_-]{1,80}")


class WebhookError(Exception):
    """A request the webhook cannot act on: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise WebhookError(400, f"missing field {name}")
    return value


def query_id(query: Mapping[str, str], name: str) -> int:
    text = query.get(name, "")
    if not text:
        raise WebhookError(400, f"missing query parameter {name}")
    if not text.isascii() or not text.isdigit():
        raise WebhookError(400, f"query parameter {name} must be a whole number, not {text!r}")
    return int(text)


def call_sid(form: Mapping[str, str]) -> str:
    sid = field(form, "CallSid")
    if not _SID.fullmatch(sid):
        raise WebhookError(400, f"CallSid {sid!r} is not a call id")
    return sid


def gather_event(form: Mapping[str, str]) -> Digits | Timeout:
    """``<Gather actionOnEmptyResult="true">`` posts ``Digits`` when keys were pressed and an
    empty (or no) ``Digits`` when it timed out."""
    keys = form.get("Digits", "")
    if not _KEYS.fullmatch(keys):
        raise WebhookError(400, f"Digits {keys!r} holds something other than 0-9, * and #")
    return Digits(keys, complete=True) if keys else Timeout()


def recording_event(form: Mapping[str, str]) -> RecordingDone:
    """A ``<Record>`` action: ``RecordingUrl`` and ``RecordingDuration`` when something was
    recorded, nothing when the ``<Redirect>`` after an empty recording brought the call here."""
    url = form.get("RecordingUrl", "")
    if not url:
        return RecordingDone(None, 0.0)
    return RecordingDone(url, duration(form, "RecordingDuration"), form.get("RecordingSid") or None)


def duration(form: Mapping[str, str], name: str) -> float:
    text = field(form, name)
    try:
        seconds = float(text)
    except ValueError:
        raise WebhookError(400, f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 <= seconds < 86400:
        raise WebhookError(400, f"{name} {text} is out of range")
    return seconds


def call_status(form: Mapping[str, str]) -> str:
    status = field(form, "CallStatus")
    if status not in CALL_STATUSES:
        raise WebhookError(400, f"CallStatus {status!r} is not one of {', '.join(CALL_STATUSES)}")
    return status


def answered_by(form: Mapping[str, str], *, required: bool) -> str | None:
    value = field(form, "AnsweredBy") if required else form.get("AnsweredBy") or None
    if value is not None and value not in ANSWERED_BY:
        raise WebhookError(400, f"AnsweredBy {value!r} is not one of {', '.join(ANSWERED_BY)}")
    return value


def dial_answered(form: Mapping[str, str]) -> bool:
    """Whether the operator took a transferred call (``DialCallStatus`` of a ``<Dial>`` action)."""
    status = field(form, "DialCallStatus")
    if status not in DIAL_STATUSES:
        raise WebhookError(400, f"DialCallStatus {status!r} is not one of {', '.join(DIAL_STATUSES)}")
    return status in ("answered", "completed")


def is_machine(answered: str | None) -> bool:
    """An answering machine or a fax, as opposed to a person (or an undecided detection)."""
    return answered in MACHINE or answered == FAX
