"""Staff-placed calls: the system rings the interviewer's own phone (an Asterisk endpoint or, through
Twilio, a phone number), then the resident, and bridges the two, so the interviewer never needs the
resident's full number (docs/staff-calls.md).

Three parts, one home:

- :class:`StaffLine`, what a channel adapter implements (Asterisk: ``ivr.channels.asterisk.staff``;
  Twilio: ``ivr.channels.twilio.staff``), called synchronously from a web request;
- what the console and the live view ask (:func:`place`, :func:`hang_up`, :func:`listen`), inside
  the request's transaction, scoped to the interviewer holding the task (or a supervisor);
- what an adapter reports as the provider's events (:func:`staff_answered`,
  :func:`resident_ringing`, :func:`resident_answered`, :func:`recorded`, :func:`ended`): each
  inside a transaction the caller owns (a Twilio webhook's), or in one of its own through
  :class:`StaffCallEvents` (the Asterisk app). Busy, no answer and failed are coded onto the
  task's call here, through :func:`calls.staff.record_disposition`, as if the interviewer had
  chosen them.

A staff call belongs to the task's open CATI attempt: the interview conducted on that attempt is
the call's interview, and the attempt is what the disposition closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls import recordings
from calls.questionnaires import Questionnaires
from calls.staff import ConsoleError, Staff, current_attempt, owned, record_disposition, revisit_not_reached
from dialer.policy import DialPolicy, PolicyError
from ivr.engine import Prompt
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import QC_RECORDING, FollowUpTask, Interview, StaffCall, StaffCallPolicy, Survey, User
from survey.phones import PhoneVault
from survey.transactions import DEFAULT_RETRY, RetryPolicy, run_transaction
from survey.vocabulary import STAFF_CALL_LIVE, StaffCallEnd, StaffCallState, TaskKind

T = TypeVar("T")
PROVIDERS = ("asterisk", "twilio")
CONSENT_MESSAGE = "recording_consent"  # the questionnaire message played before a recorded call
# An end the system codes onto the task's call, as the console outcome the interviewer would choose.
CODED: dict[str, str] = {StaffCallEnd.BUSY: "busy", StaffCallEnd.NO_ANSWER: "no_answer",
                         StaffCallEnd.NON_WORKING: "non_working", StaffCallEnd.FAILED: "failed"}


class StaffLineError(Refused):
    """The provider would not place (or hang up, or listen in on) the call; the message says why."""


# -- what a channel adapter implements ------------------------------------------------------------


@dataclass(frozen=True)
class BridgeRequest:
    """Ring ``staff_endpoint`` first; once it answers, ring ``resident_number`` (E.164) with
    ``caller_id``, for up to ``ring_timeout_s``; when the resident answers, play ``consent`` to the
    resident (if any: ``record`` is on), then bridge the two and, if ``record``, record the bridge."""

    staff_call_id: int
    staff_endpoint: str  # PJSIP/1001, or an E.164 number for a provider that rings phones
    resident_number: str
    caller_id: str | None
    ring_timeout_s: int
    record: bool
    consent: Prompt | None  # key msg/recording_consent, its text, in the case's language


@dataclass(frozen=True)
class CallRef:
    """A placed staff call as the provider knows it."""

    staff_call_id: int
    provider_ref: str | None  # the staff leg (Asterisk channel id, Twilio CallSid)
    resident_ref: str | None  # the resident leg, once dialled


@dataclass(frozen=True)
class ListenRequest:
    """Ring ``supervisor_endpoint`` and let it hear both sides of ``call``, muted."""

    call: CallRef
    supervisor_endpoint: str
    supervisor_id: int


class StaffLine(Protocol):
    """A provider's way of placing staff calls. Every method is synchronous (a web request calls
    it), returns once the provider has accepted the request, and raises :class:`StaffLineError`
    when it refuses or cannot be reached; what happens next arrives as events (the functions below)."""

    name: str  # one of PROVIDERS

    def place(self, request: BridgeRequest) -> str:
        """Start the call; returns the staff leg's provider reference (:attr:`CallRef.provider_ref`)."""
        ...

    def hang_up(self, call: CallRef) -> bool:
        """End both legs (whichever exist); False when the provider has neither any more (the call
        ended without its end being reported: the service then ends it itself)."""
        ...

    def listen(self, request: ListenRequest) -> None:
        """Start a supervisor's muted listen-in on a bridged call."""
        ...


# -- settings ------------------------------------------------------------------------------------


def policy(session: Session) -> StaffCallPolicy:
    """The centre's staff-call settings (defaults until an administrator saves them: no provider,
    not recorded, the ``tel:`` link shown)."""
    return session.get(StaffCallPolicy, 1) or StaffCallPolicy(id=1, provider="", record=False, tel_fallback=True)


def set_policy(session: Session, clock: Clock, *, user_id: int, provider: str, record: bool,
               tel_fallback: bool) -> bool:
    """Store the settings and audit what changed; False when nothing did."""
    if provider not in ("", *PROVIDERS):
        raise StaffLineError("unknown staff-call provider %(provider)r", provider=provider)
    row = session.get(StaffCallPolicy, 1)
    if row is None:
        row = policy(session)
        session.add(row)
    before = {"provider": row.provider, "record": row.record, "tel_fallback": row.tel_fallback}
    after = {"provider": provider, "record": record, "tel_fallback": tel_fallback}
    old, new = audit.changed(before, after)
    if not new:
        return False
    row.provider, row.record, row.tel_fallback = provider, record, tel_fallback
    row.updated_at, row.updated_by = clock.now(), user_id
    audit.record(session, clock, user_id=user_id, action="staff_call_policy_set", entity="staff_call_policy",
                 entity_id=1, before=old, after=new)
    session.flush()
    return True


def shows_number(settings: StaffCallPolicy) -> bool:
    """Whether the console shows the resident's full number as a ``tel:`` link: always when the
    system places no calls (it is the only way to call), else only if the fallback is allowed."""
    return not settings.provider or settings.tel_fallback


# -- what the console and the live view ask -------------------------------------------------------


def place(session: Session, task: FollowUpTask, staff: Staff, line: StaffLine, clock: Clock, vault: PhoneVault,
          questionnaires: Questionnaires) -> StaffCall:
    """Place a call for the interviewer holding ``task`` on its open attempt, through ``line``."""
    if not owned(task, staff):
        raise ConsoleError("this task is not yours")
    if task.kind == TaskKind.F2F_VISIT:
        raise ConsoleError("a door-to-door visit is not a call")
    attempt = current_attempt(session, task, staff)
    if attempt is None:
        raise ConsoleError("this task has no open call; take it again from the queue")
    if live_call(session, attempt.id) is not None:
        raise ConsoleError("a call is already in progress on this task")
    user = session.get(User, staff.id)
    if user is None or not user.phone:
        raise ConsoleError("your phone is not set: ask an administrator to enter it on your account")
    settings = policy(session)
    call = StaffCall(attempt_id=attempt.id, task_id=task.id, case_id=task.case_id, staff_id=staff.id,
                     provider=line.name, staff_endpoint=user.phone, state=StaffCallState.PLACED,
                     record=settings.record, placed_at=clock.now())
    session.add(call)
    session.flush()
    call.provider_ref = call.provider_ref or line.place(bridge_request(session, call, vault, questionnaires))
    audit.record(session, clock, user_id=staff.id, action="staff_call_placed", entity="staff_call", entity_id=call.id,
                 after={"task_id": task.id, "attempt_id": attempt.id, "provider": line.name,
                        "record": settings.record})
    session.flush()
    return call


def bridge_request(session: Session, call: StaffCall, vault: PhoneVault, questionnaires: Questionnaires
                   ) -> BridgeRequest:
    """What the provider needs to carry ``call``: the survey's caller ID (the first of its trunks')
    and ring timeout, the resident's number, and the consent notice when the call is recorded."""
    case = call.case
    survey = session.get(Survey, case.survey_id)
    assert survey is not None
    dial = _dial_policy(survey)
    consent = _consent(session, case.survey_id, case.language, questionnaires) if call.record else None
    caller_ids = [c for trunk in dial.pacing.trunks for c in trunk.caller_ids]
    return BridgeRequest(call.id, call.staff_endpoint, vault.decrypt(case.contact.number_enc),
                         caller_ids[0] if caller_ids else None, dial.pacing.ring_timeout_s, call.record, consent)


def _dial_policy(survey: Survey) -> DialPolicy:
    try:
        return DialPolicy.from_survey(survey)
    except PolicyError:  # a survey whose settings no longer parse still lets staff call
        return DialPolicy()


def _consent(session: Session, survey_id: int, language: str | None, questionnaires: Questionnaires) -> Prompt:
    questionnaire = questionnaires.of(session, survey_id)
    spoken = language if language in questionnaire.languages else questionnaire.languages[0]
    return Prompt(f"msg/{CONSENT_MESSAGE}", questionnaire.message(CONSENT_MESSAGE, spoken), spoken)


def hang_up(session: Session, call: StaffCall, staff: Staff, line: StaffLine, clock: Clock) -> None:
    """The interviewer ends the call from the console; its end arrives from the provider."""
    if call.staff_id != staff.id:
        raise ConsoleError("this call is not yours")
    if call.state == StaffCallState.ENDED:
        return
    if not line.hang_up(ref(call)):  # gone unreported (the app that carried it restarted, say)
        end = StaffCallEnd.COMPLETED if call.state == StaffCallState.TALKING else StaffCallEnd.CANCELLED
        ended(session, call.id, clock, end, "not_reported")
    audit.record(session, clock, user_id=staff.id, action="staff_call_hung_up", entity="staff_call",
                 entity_id=call.id)


def listen(session: Session, call: StaffCall, supervisor: User, line: StaffLine, clock: Clock) -> None:
    """A supervisor listens in, muted, on a bridged staff call (audited)."""
    if call.state != StaffCallState.TALKING:
        raise StaffLineError("the call is not in progress")
    if not supervisor.phone:
        raise StaffLineError("your phone is not set: ask an administrator to enter it on your account")
    if call.provider != line.name:
        raise StaffLineError("the call was placed through %(provider)s", provider=call.provider)
    line.listen(ListenRequest(ref(call), supervisor.phone, supervisor.id))
    audit.record(session, clock, user_id=supervisor.id, action="staff_call_listened", entity="staff_call",
                 entity_id=call.id, after={"case_id": call.case_id, "staff_id": call.staff_id,
                                           "endpoint": supervisor.phone})


def ref(call: StaffCall) -> CallRef:
    return CallRef(call.id, call.provider_ref, call.resident_ref)


def live_call(session: Session, attempt_id: int) -> StaffCall | None:
    return session.scalars(select(StaffCall).where(StaffCall.attempt_id == attempt_id,
                                                   StaffCall.state.in_(STAFF_CALL_LIVE))
                           .order_by(StaffCall.id.desc()).limit(1)).first()


def latest_call(session: Session, task: FollowUpTask, staff: Staff) -> StaffCall | None:
    """The interviewer's latest staff call on the task's open attempt (what the console shows)."""
    attempt = current_attempt(session, task, staff)
    if attempt is None:
        return None
    return session.scalars(select(StaffCall).where(StaffCall.attempt_id == attempt.id)
                           .order_by(StaffCall.id.desc()).limit(1)).first()


def interview_of(session: Session, call: StaffCall) -> Interview | None:
    """The interview conducted on the call's attempt, if one was opened."""
    return session.scalars(select(Interview).where(Interview.last_attempt_id == call.attempt_id)
                           .order_by(Interview.id.desc()).limit(1)).first()


# -- what an adapter reports --------------------------------------------------------------------


def find(session: Session, provider_ref: str) -> StaffCall | None:
    """The staff call whose staff leg is ``provider_ref``."""
    return session.scalar(select(StaffCall).where(StaffCall.provider_ref == provider_ref))


def _call(session: Session, staff_call_id: int) -> StaffCall:
    call = session.get(StaffCall, staff_call_id)
    if call is None:
        raise LookupError(f"no staff call {staff_call_id}")
    return call


def _advance(call: StaffCall, state: str) -> bool:
    """Move forward only: a late event never undoes a later state."""
    order = (*STAFF_CALL_LIVE, StaffCallState.ENDED)
    if order.index(state) <= order.index(call.state):
        return False
    call.state = state
    return True


def staff_answered(session: Session, staff_call_id: int, clock: Clock) -> None:
    call = _call(session, staff_call_id)
    if _advance(call, StaffCallState.STAFF_ANSWERED):
        call.staff_answered_at = clock.now()


def resident_ringing(session: Session, staff_call_id: int, clock: Clock, resident_ref: str | None = None) -> None:
    call = _call(session, staff_call_id)
    call.resident_ref = resident_ref or call.resident_ref
    if call.staff_answered_at is None:
        call.staff_answered_at = clock.now()
    if _advance(call, StaffCallState.RINGING):
        call.ringing_at = clock.now()


def resident_answered(session: Session, staff_call_id: int, clock: Clock) -> None:
    """Bridged: the call's answer time is the attempt's too."""
    call = _call(session, staff_call_id)
    if not _advance(call, StaffCallState.TALKING):
        return
    call.answered_at = clock.now()
    call.staff_answered_at = call.staff_answered_at or call.answered_at
    attempt = call.attempt
    attempt.answered_at = attempt.answered_at or call.answered_at


def recorded(session: Session, staff_call_id: int, clock: Clock, *, path: str, provider_id: str | None,
             seconds: float) -> None:
    """The call's quality-control recording: stored at ``path`` (under recordings_dir), or an
    http(s) URL still at the provider (pending download, :mod:`calls.recordings`)."""
    call = _call(session, staff_call_id)
    interview = interview_of(session, call)
    row = recordings.recording_row(interview.id if interview is not None else None, QC_RECORDING, path, provider_id,
                                   seconds, clock.now(), staff_call_id=call.id)
    recordings.insert_recordings(session.connection(), [row])


def ended(session: Session, staff_call_id: int, clock: Clock, end: StaffCallEnd, cause: str | None = None,
          questionnaires: Questionnaires | None = None) -> None:
    """The call is over. Busy, no answer and failed are coded onto the task's call (the task is
    closed and the case moves on, as when the interviewer records them); a second report is ignored."""
    call = _call(session, staff_call_id)
    if call.state == StaffCallState.ENDED:
        return
    call.state, call.end, call.hangup_cause, call.ended_at = StaffCallState.ENDED, end, cause, clock.now()
    outcome = CODED.get(end)
    task, staff = call.task, session.get(User, call.staff_id)
    assert staff is not None
    who = Staff(staff.id, staff.username)
    if outcome is not None and owned(task, who) and _still_open(session, call, who):
        if task.kind == TaskKind.REVISIT:  # a revisit call is not a survey attempt: queued again
            revisit_not_reached(session, task, who, clock)
        else:
            questionnaire = (questionnaires or Questionnaires()).of(session, call.case.survey_id)
            record_disposition(session, task, who, questionnaire, clock, outcome, note="coded by the system")
        call.coded = outcome
    audit.record(session, clock, user_id=None, action="staff_call_ended", entity="staff_call", entity_id=call.id,
                 after={"end": end, "cause": cause, "coded": call.coded})
    session.flush()


def _still_open(session: Session, call: StaffCall, staff: Staff) -> bool:
    """The call's attempt is still the task's open one, with no interview opened on it."""
    attempt = current_attempt(session, call.task, staff)
    return attempt is not None and attempt.id == call.attempt_id and interview_of(session, call) is None


class StaffCallEvents:
    """The event functions above, each in a transaction of its own tried again by the kernel's
    retry policy: for an adapter that owns no transaction (the Asterisk app, off its event loop)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.sessions, self.clock, self.retry = sessions, clock, retry
        self.questionnaires = Questionnaires()

    def _run(self, work: Callable[[Session], T]) -> T:
        return run_transaction(self.sessions, work, self.retry)

    def request(self, staff_call_id: int, vault: PhoneVault) -> BridgeRequest | None:
        """The call's :class:`BridgeRequest`, read back by an adapter that was given only its id
        (the Asterisk app); None when there is no such call or it has ended."""
        def read(session: Session) -> BridgeRequest | None:
            call = session.get(StaffCall, staff_call_id)
            if call is None or call.state == StaffCallState.ENDED:
                return None
            return bridge_request(session, call, vault, self.questionnaires)
        return self._run(read)

    def staff_answered(self, staff_call_id: int) -> None:
        self._run(lambda s: staff_answered(s, staff_call_id, self.clock))

    def resident_ringing(self, staff_call_id: int, resident_ref: str | None = None) -> None:
        self._run(lambda s: resident_ringing(s, staff_call_id, self.clock, resident_ref))

    def resident_answered(self, staff_call_id: int) -> None:
        self._run(lambda s: resident_answered(s, staff_call_id, self.clock))

    def recorded(self, staff_call_id: int, *, path: str, provider_id: str | None, seconds: float) -> None:
        self._run(lambda s: recorded(s, staff_call_id, self.clock, path=path, provider_id=provider_id, seconds=seconds))

    def ended(self, staff_call_id: int, end: StaffCallEnd, cause: str | None = None) -> None:
        self._run(lambda s: ended(s, staff_call_id, self.clock, end, cause, self.questionnaires))
