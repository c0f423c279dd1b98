"""Final AAPOR codes (Standard Definitions, 10th edition) for cases that are done: out of attempts,
open when the survey closes, or in a township whose quota has filled.

``FINAL_RULES`` gives a case its final code from everything that happened on all its calls; the
first rule that matches wins.

* Out of attempts after contact: 1.2 if an interview was partial, 2.12 after a break-off, 2.11
  after a refusal, 2.22 if a machine answered on the confirmed household, else 2.21 (the household
  is confirmed, the respondent was never reached). Not 2.30: "other" (death, incapacity, language)
  counts as a contact and would inflate the contact rate and deflate cooperation (AAPOR notes §2,
  the queXS "max call attempts" precedent not to copy).
* Never contacted: the most frequent non-contact outcome (3.12/3.13/3.14/3.16; a tie goes to the
  one that says most about the number: machine, no answer, busy, technical); 3.90 only when no
  call had a known result (every status lost); never attempted: 3.11.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.cases import CaseState, case_attempts, finalise
from survey import aapor as A
from survey.models import Interview
from survey.vocabulary import InterviewStatus

NEVER_AVAILABLE = "2.21"  # the household is confirmed, the respondent was never reached (again)

I = InterviewStatus  # noqa: E741 - the table below reads better with short names


@dataclass(frozen=True)
class CaseSummary:
    """Everything the final rules look at: the temporary codes of all attempts, whether anyone
    ever answered, and the statuses of the case's interviews (CATI completions count too)."""

    temps: Counter[str] = field(default_factory=Counter)
    contacted: bool = False
    interviews: frozenset[str] = frozenset()

    def has(self, *codes: str) -> bool:
        return any(self.temps[c] for c in codes)

    def non_contact(self) -> str:
        """The most frequent non-contact code (3.1x), ties by :data:`_NON_CONTACT`; 3.90 if none."""
        seen = [code for code in _NON_CONTACT if self.temps[code]]
        return max(seen, key=lambda code: self.temps[code]) if seen else A.UNKNOWN_OTHER


_NON_CONTACT = (A.MACHINE_UNKNOWN, A.NO_ANSWER, A.BUSY, A.TECHNICAL)  # tie order

FINAL_RULES: tuple[tuple[str, Callable[[CaseSummary], bool], Callable[[CaseSummary], str]], ...] = (
    ("completed", lambda s: s.has(A.COMPLETE) or I.COMPLETE in s.interviews, lambda s: A.COMPLETE),
    ("partial", lambda s: s.has(A.PARTIAL) or I.PARTIAL in s.interviews, lambda s: A.PARTIAL),
    ("broke off", lambda s: s.has(A.BREAK_OFF) or I.BREAK_OFF in s.interviews, lambda s: A.BREAK_OFF),
    ("refused", lambda s: s.has(A.REFUSAL), lambda s: A.REFUSAL),
    ("appointment never kept", lambda s: s.has(NEVER_AVAILABLE), lambda s: NEVER_AVAILABLE),
    ("machine after contact", lambda s: s.has(A.MACHINE_HOUSEHOLD), lambda s: A.MACHINE_HOUSEHOLD),
    ("respondent never reached", lambda s: s.contacted, lambda s: NEVER_AVAILABLE),
    ("never attempted", lambda s: not s.temps, lambda s: A.NOT_ATTEMPTED),
    ("never contacted", lambda s: True, lambda s: s.non_contact()),
)


def resolve_final(summary: CaseSummary) -> str:
    return next(code(summary) for _name, matches, code in FINAL_RULES if matches(summary))


def summaries(session: Session, cases: Sequence[CaseState]) -> dict[int, CaseSummary]:
    """The final rules' view of each case, read in a few queries."""
    temps: dict[int, Counter[str]] = {c.id: Counter() for c in cases}
    statuses: dict[int, set[str]] = {c.id: set() for c in cases}
    ids = list(temps)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for attempt in case_attempts(session, chunk):
            if attempt.temp_disposition:
                temps[attempt.case_id][attempt.temp_disposition] += 1
        for case_id, status in session.execute(select(Interview.case_id, Interview.status).where(
                Interview.case_id.in_(chunk))):
            statuses[case_id].add(status)
    return {c.id: CaseSummary(temps[c.id], c.contacted, frozenset(statuses[c.id])) for c in cases}


def finalise_by_rules(session: Session, cases: Sequence[CaseState], now: datetime) -> Counter[str]:
    """Give each of ``cases`` its final code by the rules; returns how many got which code."""
    coded: Counter[str] = Counter()
    for start in range(0, len(cases), 1000):
        chunk = cases[start:start + 1000]
        views = summaries(session, chunk)
        for case in chunk:
            code = resolve_final(views[case.id])
            finalise(case, code, now)
            coded[code] += 1
    return coded
