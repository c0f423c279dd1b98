"""Do-not-call: one list across all surveys, honoured from the moment a number is added.

A number on the list is never leased (the lease query excludes it), its open cases in every
survey are finalised as refusals (2.11: the household refused to be called), and a frame that
contains it imports without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.orm import Session

from dialer.cases import DIALABLE, OPEN, finalise, status_is
from survey import aapor
from survey.clock import SystemClock
from survey.models import Case, Contact, DoNotCall, Survey
from survey.vocabulary import CaseStatus


def add_to_dnc(session: Session, contact_or_hash: Contact | str, source: str, survey_id: int | None, *,
               now: datetime | None = None) -> int:
    """Put a number on the do-not-call list (idempotent) and finalise its open cases in every
    survey. Returns how many cases were finalised. ``source``: ``ivr_opt_out``, ``staff``, ``import``."""
    number_hash = contact_or_hash.number_hash if isinstance(contact_or_hash, Contact) else contact_or_hash
    now = now or SystemClock().now()
    session.flush()
    if session.get(DoNotCall, number_hash) is None:
        session.add(DoNotCall(number_hash=number_hash, added_at=now, source=source, survey_id=survey_id))
    cases = session.scalars(select(Case).join(Contact, Contact.id == Case.contact_id).where(
        Contact.number_hash == number_hash, Case.status.in_(OPEN))).all()
    for case in cases:
        finalise(case, aapor.REFUSAL, now)
    session.flush()
    return len(cases)


def add_many(session: Session, hashes: Iterable[str], source: str, now: datetime) -> tuple[int, int]:
    """Put many numbers on the list at once (an outside list: ``source`` ``import``) and finalise
    the dialable cases of every survey that have one of them, as :func:`sweep` does. Returns
    (numbers added, dialable cases finalised); numbers already on the list are left as they were."""
    wanted = set(hashes)
    new = sorted(wanted - listed(session, wanted))
    for i in range(0, len(new), 500):
        session.execute(insert(DoNotCall), [{"number_hash": h, "added_at": now, "source": source, "survey_id": None}
                                            for h in new[i:i + 500]])
    finalised = sum(sweep(session, survey_id, now) for survey_id in session.scalars(select(Survey.id)).all())
    return len(new), finalised


def listed(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` are on the do-not-call list."""
    wanted = list(hashes)
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        found.update(session.scalars(select(DoNotCall.number_hash).where(
            DoNotCall.number_hash.in_(wanted[i:i + 500]))).all())
    return found


def sweep(session: Session, survey_id: int, now: datetime) -> int:
    """Finalise dialable cases whose number reached the list some other way (staff, another
    system). Returns how many. It runs at every housekeeping and almost always finds nothing, so
    it reads the list first: an empty list (most centres' most days) costs one index probe, where
    looking for listed numbers among a province's cases took a second. It also looks before it
    writes: a write would hold SQLite's one write lock (against the other processes on the file)
    until the housekeeping's transaction ends."""
    if session.scalar(select(exists().select_from(DoNotCall))) is not True:
        return 0
    listed_contacts = select(Contact.id).join(DoNotCall, DoNotCall.number_hash == Contact.number_hash)
    on_list = and_(Case.survey_id == survey_id, status_is(*DIALABLE), Case.contact_id.in_(listed_contacts))
    if not session.scalar(select(exists().where(on_list))):
        return 0
    result = session.execute(
        update(Case).where(on_list)
        .values(status=CaseStatus.FINAL, final_disposition=aapor.REFUSAL, final_at=now, next_attempt_at=None,
                callback_at=None, updated_at=now)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
