"""Supervisor corrections on a case: its final disposition (audited with before and after)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from survey import aapor, audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Case
from survey.vocabulary import CaseStatus


class CaseChangeError(Refused):
    pass


def set_final_disposition(session: Session, case: Case, code: str, clock: Clock, *, user_id: int,
                          reason: str) -> None:
    """Give or correct the case's final AAPOR code; a reason is required."""
    if code not in aapor.DISPOSITIONS:
        raise CaseChangeError("%(code)r is not an AAPOR disposition code", code=code)
    if not reason.strip():
        raise CaseChangeError("give a reason for the change")
    before = {"status": case.status, "final_disposition": case.final_disposition}
    now = clock.now()
    case.status, case.final_disposition, case.final_at = CaseStatus.FINAL, code, now
    case.next_attempt_at = case.callback_at = None
    case.lease_owner = case.lease_expires_at = None
    case.updated_at = now
    audit.record(session, clock, user_id=user_id, action="disposition_changed", entity="case", entity_id=case.id,
                 before=before, after={"status": case.status, "final_disposition": code, "reason": reason.strip()})
    session.flush()
