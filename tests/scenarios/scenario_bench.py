"""The rows every scenario starts from, the same for every channel: a survey with one case for the
resident's number, a second survey with a case for the same number, and call attempts opened as
the dialer opens them (its own lease and ``begin``)."""

from __future__ import annotations

from datetime import timedelta

from scenario_model import NUMBER, Ids
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dialer.attempts import begin
from dialer.leases import lease
from dialer.protocol import CallRequest
from ivr.channels.simulated import FrameMix, World
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import Case, Contact
from survey.phones import PhoneVault, mask
from survey.questionnaire import load_bundled
from survey.surveys import create_survey

SECRET = "test-secret-key-for-minyi-scenarios"
VAULT = PhoneVault(SECRET)
WORLD = World(seed=11, townships=1, mix=FrameMix(non_working=0.0, fax=0.0))
CALLER_ID = "12340"


class Bench:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], clock: VirtualClock) -> None:
        self.engine, self.sessions, self.clock = engine, sessions, clock
        questionnaire = load_bundled()
        with session_scope(sessions) as s:
            contact = Contact(number_enc=VAULT.encrypt(NUMBER), number_hash=VAULT.hash(NUMBER),
                              number_masked=mask(NUMBER))
            s.add(contact)
            s.flush()
            cases = []
            for code in ("MAIN", "OTHER"):
                survey = create_survey(s, code, questionnaire, clock, period="2026-11", strata=WORLD.strata(100))
                case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id,
                            created_at=clock.now(), updated_at=clock.now())
                s.add(case)
                s.flush()
                cases.append(case)
            self.case_id, self.other_case_id = cases[0].id, cases[1].id
            self.survey_id = cases[0].survey_id

    def ids(self, harness_tasks: set[int]) -> Ids:
        return Ids(self.case_id, self.other_case_id, self.survey_id, frozenset(harness_tasks))

    def dial(self, channel: str) -> CallRequest:
        """Lease the case and open an attempt on it, as a dialer worker does."""
        now = self.clock.now()
        with session_scope(self.sessions) as s:
            leased = lease(s, [self.case_id], "scenario-worker", now, timedelta(minutes=30))
            assert leased, "the case is not dialable"
            (dial,) = begin(s, leased, ["trunk-1"], [CALLER_ID], now=now, owner="scenario-worker", channel=channel,
                            vault=VAULT, ring_timeout_s=30)
            return dial.request
