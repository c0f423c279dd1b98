"""A one-township survey with cases to call, as the dialer leaves them for a channel, and what
the calls left in the database."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from ari_fake import Press
from ari_fake.residents import Reply
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialer.protocol import CallRequest
from ivr.channels.asterisk import AsteriskChannel
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import Answer, CallAttempt, Case, Contact, FollowUpTask, Interview, Recording
from survey.phones import PhoneVault, mask
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import AttemptStatus

SCALE = 0.03  # one call second lasts 30 ms: an eight-second input timeout takes 0.24 s
# The database work is the same on both back ends: most tests run on SQLite only, to stay quick.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

# The bundled questionnaire, all the way through: 普通话, consent, two screening questions, the
# safety item (2: no follow-up on worries), trend, five satisfaction items, no comment, age group,
# sex, and 15 years lived here.
COMPLETE = ("1", "1", "1", "1", "2", "1", "1", "2", "3", "1", "2", "2", "2", "1", "15")
ASKED = ("msg/language_menu", "consent", "s_age", "s_resident", "q_safety", "q_trend", "q_police", "q_court",
         "q_procuratorate", "q_justice", "q_overall", "q_suggest_yn", "d_age", "d_sex", "d_years")
# The same resident, answering each question whenever (and however often) it is asked.
COMPLETE_BY_PROMPT: dict[str, Reply] = {asked: Press(keys) for asked, keys in zip(ASKED, COMPLETE, strict=True)}


@dataclass
class Outcome:
    attempt: CallAttempt
    interview: Interview | None
    answers: dict[str, Any]
    recordings: list[Recording]
    tasks: list[FollowUpTask]


class World:
    def __init__(self, sessions: sessionmaker[Session], clock: VirtualClock, code: str = "S1") -> None:
        self.sessions, self.clock = sessions, clock
        self.vault = PhoneVault("test-secret")
        with session_scope(sessions) as s:
            survey = create_survey(s, code, load_bundled(), clock, period="2026-11", quota=1000,
                                   strata=[StratumSpec("T01", "城关镇", "Chengguan")])
            self.survey_id, self.stratum_id = survey.id, survey.strata[0].id

    def dial(self, number: str) -> CallRequest:
        """A case for ``number`` (made on first use) and a new attempt on it."""
        with session_scope(self.sessions) as s:
            number_hash = self.vault.hash(number)
            contact = s.scalars(select(Contact).where(Contact.number_hash == number_hash)).first()
            if contact is None:
                contact = Contact(number_enc=self.vault.encrypt(number), number_hash=number_hash,
                                  number_masked=mask(number))
                s.add(contact)
                s.flush()
            case = s.scalars(select(Case).where(Case.contact_id == contact.id)).first()
            if case is None:
                case = Case(survey_id=self.survey_id, stratum_id=self.stratum_id, contact_id=contact.id,
                            created_at=self.clock.now(), updated_at=self.clock.now())
                s.add(case)
                s.flush()
            case.attempts += 1
            attempt = CallAttempt(case_id=case.id, survey_id=self.survey_id, channel="asterisk",
                                  status=AttemptStatus.QUEUED, started_at=self.clock.now(), caller_id="12340")
            s.add(attempt)
            s.flush()
            return CallRequest(attempt.id, case.id, None, number, "12340", case.language, ring_timeout_s=30)

    def outcome(self, attempt_id: int) -> Outcome:
        with self.sessions() as s:
            attempt = s.get(CallAttempt, attempt_id)
            assert attempt is not None
            interview = s.scalars(select(Interview).where(Interview.case_id == attempt.case_id)
                                  .order_by(Interview.id.desc())).first()
            answers: dict[str, Any] = {}
            recordings: list[Recording] = []
            if interview is not None:
                for a in s.scalars(select(Answer).where(Answer.interview_id == interview.id)):
                    answers[a.question_id] = _value(a)
                recordings = list(s.scalars(select(Recording).where(Recording.interview_id == interview.id)))
            tasks = list(s.scalars(select(FollowUpTask).where(FollowUpTask.case_id == attempt.case_id)))
            s.expunge_all()
            return Outcome(attempt, interview, answers, recordings, tasks)


def _value(a: Answer) -> Any:
    """The stored answer: its codes, value or code; its status when it has none of them."""
    if a.status != "answered":
        return a.status
    for value in (a.codes, a.value, a.code):
        if value is not None:
            return value
    return a.status


def wait_until_idle(channel: AsteriskChannel, timeout_s: float = 30.0) -> None:
    """Until every call the channel placed has ended and been reported."""
    end = time.monotonic() + timeout_s
    while channel.lines_in_use():
        if time.monotonic() > end:
            raise AssertionError(f"{channel.lines_in_use()} call(s) still running after {timeout_s} s")
        time.sleep(0.02)


def wait_for(condition: Any, timeout_s: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
