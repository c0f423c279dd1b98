"""The housekeeping's do-not-call sweep: nothing read from the cases while the list is empty;
listed numbers' dialable cases finalised as refusals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dialer_fakes import add_numbers, make_survey
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from dialer import dnc
from survey import aapor
from survey.clock import VirtualClock
from survey.models import Case, Contact, DoNotCall


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_empty_list_leaves_the_cases_unread(session: Session, clock: VirtualClock) -> None:
    survey = make_survey(session, clock, quotas=[5])
    add_numbers(session, survey, 3, clock.now())
    session.flush()
    with _statements(session) as seen:
        assert dnc.sweep(session, survey.id, clock.now()) == 0
    assert seen and not any("cases" in statement for statement in seen)


def test_listed_numbers_dialable_cases_become_refusals(session: Session, clock: VirtualClock) -> None:
    survey = make_survey(session, clock, quotas=[5])
    add_numbers(session, survey, 3, clock.now())
    cases = session.scalars(select(Case).where(Case.survey_id == survey.id).order_by(Case.id)).all()
    listed = session.get_one(Contact, cases[1].contact_id)
    session.add(DoNotCall(number_hash=listed.number_hash, added_at=clock.now(), source="staff"))
    session.flush()
    assert dnc.sweep(session, survey.id, clock.now()) == 1
    session.expire_all()
    assert [c.final_disposition for c in cases] == [None, aapor.REFUSAL, None]
