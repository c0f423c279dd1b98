"""Door-to-door visits (入户走访): an interviewer enters a resident met at home into the same
survey, identified by the resident's phone number (which de-duplicates against the phone sample
and lets the centre call back for the revisit). The interview itself runs in the console in mode
``f2f``, so one survey mixes IVR, CATI and door-to-door answers.

Whoever types a number learns only whether it can be entered: a number on the do-not-call list, a
closed case, a case someone is working on and a case of another township are all refused with the
same message (:func:`_not_here`), so the form cannot be used to look a resident up.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.staff import Staff, take_case
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Case, Contact, DoNotCall, FollowUpTask, Stratum, Survey
from survey.phones import PhoneError, PhoneVault, normalise
from survey.vocabulary import CaseStatus, SurveyStatus, TaskKind, TaskStatus


class F2FError(Refused):
    pass


def _not_here() -> F2FError:
    return F2FError("this resident cannot be entered here: ask your supervisor")


def start_visit(session: Session, staff: Staff, vault: PhoneVault, clock: Clock, *, survey_id: int, township: str,
                number: str) -> FollowUpTask:
    """A task held by ``staff`` for the resident's case (found by number, or added to the township)."""
    survey = session.get(Survey, survey_id)
    if survey is None or survey.status != SurveyStatus.ACTIVE:
        raise F2FError("choose an active survey")
    stratum = _stratum(session, survey, township)
    try:
        e164, line_type = normalise(number)
    except PhoneError as exc:
        raise F2FError("the phone number is not valid: %(reason)s", reason=str(exc)) from None
    number_hash = vault.hash(e164)
    if session.get(DoNotCall, number_hash) is not None:
        raise _not_here()
    case = _case(session, survey, stratum, vault, e164, line_type, number_hash, clock)
    busy = session.scalar(select(FollowUpTask.id).where(FollowUpTask.case_id == case.id,
                                                        FollowUpTask.status == TaskStatus.IN_PROGRESS))
    if busy is not None:
        raise _not_here()
    return take_case(session, case, staff, clock, TaskKind.F2F_VISIT, "door-to-door visit")


def _stratum(session: Session, survey: Survey, township: str) -> Stratum:
    survey_part, _, code = township.partition(":")
    stratum = next((s for s in survey.strata if s.code == code), None)
    if survey_part != str(survey.id) or stratum is None:
        raise F2FError("choose a township of the chosen survey")
    return stratum


def _case(session: Session, survey: Survey, stratum: Stratum, vault: PhoneVault, e164: str, line_type: str,
          number_hash: str, clock: Clock) -> Case:
    contact = session.scalars(select(Contact).where(Contact.number_hash == number_hash)).first()
    if contact is None:
        contact = Contact(**vault.contact_row(e164, line_type, number_hash))
        session.add(contact)
        session.flush()
    case = session.scalars(select(Case).where(Case.survey_id == survey.id, Case.contact_id == contact.id)).first()
    now = clock.now()
    if case is None:
        case = Case(survey_id=survey.id, stratum_id=stratum.id, contact_id=contact.id,
                    status=CaseStatus.FOLLOW_UP, frame={"source": "f2f"}, created_at=now, updated_at=now)
        session.add(case)
        session.flush()
    elif case.status == CaseStatus.FINAL or case.stratum_id != stratum.id:
        raise _not_here()
    return case

