"""Twilio's webhooks of staff-placed calls as plain functions of (query, form), free of Flask:
each translates Twilio's event into the staff-call service (:mod:`calls.staff_lines`).

* ``answered``, staff leg: the staff member picked up. The reply joins them to the conference,
  and the resident is dialled (REST, after the transaction: the network is never used inside one).
* ``answered``, resident leg: the resident picked up. A recorded call plays the consent notice,
  then redirects to ``bridge``; an unrecorded one is bridged at once.
* ``bridge``: the resident heard the notice: the call is bridged (``resident_answered``) and the
  reply joins the conference, which starts it and its recording.
* ``status``: each leg's progress. The resident's ringing, answer, busy, no answer, failure and end,
  and the staff member's answer or not, go to the service, which codes busy, no answer and failed.
  When a leg's end ends the call, the other leg is hung up (a resident answering the phone after
  the staff member hung up, or a staff member waiting for a resident who will not come).
* ``recording``: the conference's recording is complete; it is stored pending download and brought
  home like every Twilio recording (:mod:`.fetch`), once per RecordingSid.

The resident's leg is reported ringing (``resident_ringing`` with its CallSid) as soon as Twilio
has created it; Twilio's own "ringing" repeats that harmlessly.

Each request is one transaction that begins by locking the staff call's row, so the deliveries of
one call are handled one after the other. Replays are harmless: the TwiML a leg was answered with
is stored under (CallSid, step) and answered again unchanged (the resident is dialled once); the
service only moves a call forward and applies its end once; a RecordingSid is stored once. The
kept TwiML is pruned after a day, as the interview webhooks' (:mod:`.replies`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

import requests
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from calls import recordings
from calls import staff_lines as lines
from calls.questionnaires import Questionnaires
from ivr.channels.twilio import params as p
from ivr.channels.twilio.audio import PromptRecordings
from ivr.channels.twilio.channel import Refusal
from ivr.channels.twilio.replies import ReplyPruning
from ivr.channels.twilio.staff_rest import StaffCallRest
from ivr.channels.twilio.staff_twiml import StaffTwiml
from ivr.channels.twilio.staff_urls import LEGS, Leg
from survey.clock import Clock
from survey.models import StaffCall, WebhookReply
from survey.phones import PhoneVault
from survey.transactions import DEFAULT_RETRY, RetryPolicy, run_transaction
from survey.vocabulary import StaffCallEnd, StaffCallState

log = logging.getLogger(__name__)

T = TypeVar("T")
Query = Mapping[str, str]
Form = Mapping[str, str]

ANSWER, BRIDGE = 0, 1  # the WebhookReply steps under which a leg's TwiML is kept
ENDS = {"busy": StaffCallEnd.BUSY, "no-answer": StaffCallEnd.NO_ANSWER, "failed": StaffCallEnd.FAILED,
        "canceled": StaffCallEnd.CANCELLED, "completed": StaffCallEnd.COMPLETED}
_STORE_REPLY = insert(cast(Table, WebhookReply.__table__))


@dataclass(frozen=True)
class Locked:
    call: StaffCall
    stored_reply: str | None


class StaffCallWebhooks:
    """``vault`` reads the resident's number to dial; ``recordings`` are the recorded prompts (the
    consent notice is played from its recording when there is one, else spoken)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, twiml: StaffTwiml, rest: StaffCallRest,
                 vault: PhoneVault, recordings: PromptRecordings | None = None, *,
                 retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.sessions, self.clock, self.twiml, self.rest, self.vault = sessions, clock, twiml, rest, vault
        self.prompt_audio = recordings
        self.retry = retry
        self.replies = ReplyPruning(sessions, clock)
        self.questionnaires = Questionnaires()

    def _run(self, work: Callable[[Session], T]) -> T:
        return run_transaction(self.sessions, work, self.retry)

    # -- a leg answered: TwiML --------------------------------------------------------------

    def answered(self, query: Query, form: Form) -> str:
        call_id, leg, sid = p.query_id(query, "call"), _leg(query), p.call_sid(form)
        if leg == "resident":
            return self._run(lambda s: self._resident_answered(s, call_id, sid))
        body, dial = self._run(lambda s: self._staff_answered(s, call_id, sid))
        if dial is not None:
            return self._dial_resident(call_id, sid, dial, body)
        return body

    def _staff_answered(self, s: Session, call_id: int, sid: str) -> tuple[str, lines.BridgeRequest | None]:
        """The reply, and the request to dial the resident with when this delivery is the first."""
        locked = self._lock(s, call_id, "staff", sid, ANSWER)
        call = locked.call
        if locked.stored_reply is not None:
            return locked.stored_reply, None
        if call.state == StaffCallState.ENDED:  # hung up from the console meanwhile
            return self.twiml.hang_up(), None
        lines.staff_answered(s, call.id, self.clock)
        body = self._store(s, sid, ANSWER, self.twiml.staff_joins(call.id, record=call.record))
        return body, lines.bridge_request(s, call, self.vault, self.questionnaires)

    def _dial_resident(self, call_id: int, staff_sid: str, request: lines.BridgeRequest, body: str) -> str:
        try:
            resident = self.rest.place_leg(call_id, "resident", request.resident_number, request.ring_timeout_s,
                                           request.caller_id)
        except (TwilioRestException, TwilioServiceException, requests.RequestException) as exc:
            cause, reason = _failure(exc)
            log.warning("staff call %s: the resident's leg was not created: %s", call_id, reason)
            hang_up = self.twiml.hang_up()
            self._run(lambda s: self._not_dialled(s, call_id, staff_sid, cause, hang_up))
            return hang_up
        if self._run(lambda s: self._dialled(s, call_id, resident)):
            self._end_leg(call_id, resident)  # the staff member hung up while the resident was dialled
        return body

    def _dialled(self, s: Session, call_id: int, resident: str) -> bool:
        """The resident's phone rings on the leg ``resident`` (kept even if the call ended meanwhile,
        so that the leg's own news is recognised); whether the call ended meanwhile."""
        call = self._lock_call(s, call_id)
        lines.resident_ringing(s, call.id, self.clock, resident)
        return call.state == StaffCallState.ENDED

    def _not_dialled(self, s: Session, call_id: int, staff_sid: str, cause: str, hang_up: str) -> None:
        """The resident could not be dialled: the call failed, and the staff leg (this delivery or
        a replay of it) is told to hang up."""
        self._lock_call(s, call_id)
        lines.ended(s, call_id, self.clock, StaffCallEnd.FAILED, cause, self.questionnaires)
        s.execute(update(WebhookReply).where(WebhookReply.call_sid == staff_sid, WebhookReply.seq == ANSWER)
                  .values(body=hang_up))

    def _resident_answered(self, s: Session, call_id: int, sid: str) -> str:
        locked = self._lock(s, call_id, "resident", sid, ANSWER)
        call = locked.call
        if locked.stored_reply is not None:
            return locked.stored_reply
        if call.state == StaffCallState.ENDED:  # the staff member hung up while it rang
            return self.twiml.hang_up()
        if not call.record:
            return self._store(s, sid, ANSWER, self._bridge(s, call))
        consent = lines.bridge_request(s, call, self.vault, self.questionnaires).consent
        if consent is None:
            raise ValueError(f"staff call {call.id} is recorded but has no consent notice to play")
        audio = self.prompt_audio.urls_for(self.questionnaires.of(s, call.case.survey_id).id) \
            if self.prompt_audio else None
        return self._store(s, sid, ANSWER, self.twiml.consent(call.id, consent, audio))

    def bridge(self, query: Query, form: Form) -> str:
        """The resident heard the consent notice: bridged."""
        call_id, sid = p.query_id(query, "call"), p.call_sid(form)

        def work(s: Session) -> str:
            locked = self._lock(s, call_id, "resident", sid, BRIDGE)
            if locked.stored_reply is not None:
                return locked.stored_reply
            if locked.call.state == StaffCallState.ENDED:
                return self.twiml.hang_up()
            return self._store(s, sid, BRIDGE, self._bridge(s, locked.call))

        return self._run(work)

    def _bridge(self, s: Session, call: StaffCall) -> str:
        lines.resident_answered(s, call.id, self.clock)
        return self.twiml.resident_joins(call.id, record=call.record)

    # -- notifications ----------------------------------------------------------------------

    def status(self, query: Query, form: Form) -> None:
        """A leg's progress; when its end ends the call, the other leg is hung up."""
        call_id, leg, sid, status = p.query_id(query, "call"), _leg(query), p.call_sid(form), p.call_status(form)
        cause = status + (f" (SIP {form['SipResponseCode']})" if form.get("SipResponseCode") else "")
        other = self._run(lambda s: self._progress(s, call_id, leg, sid, status, cause))
        if other is not None:
            self._end_leg(call_id, other)
        self.replies.prune()

    def _end_leg(self, call_id: int, sid: str) -> None:
        try:
            self.rest.end_leg(sid)
        except (TwilioRestException, TwilioServiceException, requests.RequestException) as exc:
            log.warning("staff call %s: hanging up leg %s failed: %s", call_id, sid, exc)

    def _progress(self, s: Session, call_id: int, leg: Leg, sid: str, status: str, cause: str) -> str | None:
        """Tell the service; the other leg's CallSid when this event ended the call."""
        call = self._lock(s, call_id, leg, sid).call
        if status not in ENDS:
            if status == "in-progress" and leg == "staff":
                lines.staff_answered(s, call.id, self.clock)
            elif status == "ringing" and leg == "resident":
                lines.resident_ringing(s, call.id, self.clock, sid)
            return None
        if call.state == StaffCallState.ENDED:
            return None
        lines.ended(s, call.id, self.clock, _end(leg, status, call.state), cause, self.questionnaires)
        return call.resident_ref if leg == "staff" else call.provider_ref

    def recording(self, query: Query, form: Form) -> None:
        """The conference's recordingStatusCallback (it carries no CallSid: the call is the query's)."""
        call_id = p.query_id(query, "call")
        recording_sid, state = p.field(form, "RecordingSid"), p.field(form, "RecordingStatus")
        if state != "completed":
            log.warning("staff call %s: recording %s is %s", call_id, recording_sid, state)
            return
        url, seconds = p.field(form, "RecordingUrl"), p.duration(form, "RecordingDuration")

        def work(s: Session) -> None:
            self._lock_call(s, call_id)
            now = self.clock.now()
            if recordings.completed(s, recording_sid, url, seconds, now) is None:
                lines.recorded(s, call_id, self.clock, path=url, provider_id=recording_sid, seconds=seconds)
                recordings.completed(s, recording_sid, url, seconds, now)  # the file is complete: due now

        self._run(work)

    # -- helpers ----------------------------------------------------------------------------

    def _lock_call(self, s: Session, call_id: int) -> StaffCall:
        call = s.scalars(update(StaffCall).where(StaffCall.id == call_id).values(state=StaffCall.state)
                         .returning(StaffCall)
                         .execution_options(synchronize_session=False, populate_existing=True)).one_or_none()
        if call is None:
            raise p.WebhookError(404, f"no staff call {call_id}")
        return call

    def _lock(self, s: Session, call_id: int, leg: Leg, sid: str, step: int | None = None) -> Locked:
        """Lock the staff call, check that ``sid`` is its ``leg``, and read the TwiML stored for ``step``."""
        call = self._lock_call(s, call_id)
        known = call.provider_ref if leg == "staff" else call.resident_ref
        if known is None and leg == "resident" and call.state != StaffCallState.PLACED and sid != call.provider_ref:
            # the resident is dialled once the staff member answered; Twilio's news came before its REST answer
            lines.resident_ringing(s, call.id, self.clock, sid)
        elif known != sid:
            raise p.WebhookError(409, f"call {sid} is not the {leg} leg of staff call {call_id}")
        stored = None if step is None else s.scalar(select(WebhookReply.body).where(
            WebhookReply.call_sid == sid, WebhookReply.seq == step))
        return Locked(call, stored)

    def _store(self, s: Session, sid: str, step: int, body: str) -> str:
        s.execute(_STORE_REPLY, {"call_sid": sid, "seq": step, "body": body, "created_at": self.clock.now()})
        return body


def _leg(query: Query) -> Leg:
    leg = query.get("leg", "")
    if leg not in LEGS:
        raise p.WebhookError(400, f"query parameter leg must be one of {', '.join(LEGS)}, not {leg!r}")
    return leg


def _end(leg: Leg, status: str, state: str) -> StaffCallEnd:
    """How the call ended, from the status a leg ended with and how far the call had come."""
    if leg == "resident":
        return ENDS[status]
    if status == "completed":  # the staff member hung up, after the resident answered or before
        return StaffCallEnd.COMPLETED if state == StaffCallState.TALKING else StaffCallEnd.CANCELLED
    if status == "canceled":  # hung up from the console while it rang
        return StaffCallEnd.CANCELLED
    return StaffCallEnd.STAFF_UNANSWERED  # busy, no answer, failed: the staff phone never took the call


def _failure(exc: Exception) -> tuple[str, str]:
    """A short cause to keep with the call, and the whole reason to log."""
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        refusal = Refusal.of(exc)
        return f"twilio {refusal.code or refusal.status}", refusal.reason
    return "twilio unreachable", str(exc)
