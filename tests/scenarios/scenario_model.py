"""What a scenario is (the keys a resident presses, call by call), the rows it leaves (a
:class:`Snapshot`, normalised so that channels may be compared), and the one expected snapshot
of each scenario, written once for every channel.

Normalised away, because they legitimately differ between channels: provider ids, every
timestamp but the case's callback time, the interview's and answers' mode (ivr, cati), the
attempts' channel and hang-up details, raw input and timings, and the tasks the console's own
harness opens so that an interviewer has something to take. The case's language is left out
too: the IVR asks it and stores it on the case, the console never asks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.policy import DialPolicy
from dialer.schedule import callback_time
from survey import aapor
from survey.models import Answer, CallAttempt, Case, Contact, DoNotCall, FollowUpTask, Interview
from survey.vocabulary import (
    AnswerStatus,
    AttemptStatus,
    CallStatus,
    CaseStatus,
    InterviewStatus,
    TaskKind,
    TaskStatus,
)

START = datetime(2026, 11, 2, 10, 30)  # Monday 18:30 in Asia/Shanghai, inside the calling windows
NUMBER = "+8613800138000"

# The bundled questionnaire, all the way through (no comment, so no recording): consent, the two
# screening questions, the safety item (2: no follow-up), trend, five satisfaction items, no
# comment, age group, sex, and 15 years lived here. Menus other than the callback menu (the
# language, "press 1 to continue") are answered by each driver as a resident would: 普通话, continue.
WALK = ("1", "1", "1", "2", "1", "1", "2", "3", "1", "2", "2", "2", "1", "15#")
QUESTIONS = ("consent", "s_age", "s_resident", "q_safety", "q_trend", "q_police", "q_court", "q_procuratorate",
             "q_justice", "q_overall", "q_suggest_yn", "d_age", "d_sex", "d_years")
TOMORROW_EVENING = "2"  # the callback menu's key for "tomorrow evening"


@dataclass(frozen=True)
class Call:
    """One call: the entries the resident makes in order; ``hang_up``: then hangs up at the next
    question (on the console: the interviewer records "stopped part-way")."""

    entries: tuple[str, ...]
    hang_up: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    calls: tuple[Call, ...]
    expected: Snapshot
    duplicate: bool = False  # the channel's provider delivers its events twice
    lose_connection: bool = False  # the database connection drops in the middle of the interview
    channels: tuple[str, ...] = ("simulated", "twilio", "asterisk", "console")


@dataclass(frozen=True)
class AnswerRow:
    question_id: str
    status: str
    code: int | None = None
    codes: tuple[int, ...] | None = None
    value: float | None = None
    raw_input: str = ""  # the keys, without the "#" that ends an entry


@dataclass(frozen=True)
class InterviewRow:
    status: str
    consent: bool | None
    current_question: str | None
    language: str


@dataclass(frozen=True)
class CaseRow:
    status: str
    final_disposition: str | None
    last_temp_disposition: str | None
    contacted: bool
    callback_at: datetime | None


@dataclass(frozen=True)
class AttemptRow:
    status: str
    outcome: str | None
    temp_disposition: str | None


@dataclass(frozen=True)
class Snapshot:
    interviews: tuple[InterviewRow, ...]
    answers: tuple[AnswerRow, ...]  # of every interview of the case, by question
    case: CaseRow
    attempts: tuple[AttemptRow, ...]  # in the order they were made
    tasks: tuple[tuple[str, str], ...]  # (kind, status) of the case's tasks
    do_not_call: tuple[tuple[str, str | None], ...]  # (source, "main"/"other" survey) of the number
    other_case: tuple[str, str | None]  # (status, final disposition) of the number's case in another survey


@dataclass(frozen=True)
class Ids:
    """What a snapshot is read for: the case under test, the same number's case in another
    survey, and the tasks a harness opened for itself (left out)."""

    case_id: int
    other_case_id: int
    main_survey_id: int
    harness_tasks: frozenset[int] = frozenset()


def snapshot(session: Session, ids: Ids) -> Snapshot:
    case = session.get(Case, ids.case_id)
    other = session.get(Case, ids.other_case_id)
    assert case is not None and other is not None
    interviews = session.scalars(select(Interview).where(Interview.case_id == case.id).order_by(Interview.id)).all()
    answers = session.scalars(select(Answer).where(Answer.interview_id.in_([i.id for i in interviews]))
                              .order_by(Answer.question_id, Answer.id)).all()
    attempts = session.scalars(select(CallAttempt).where(CallAttempt.case_id == case.id).order_by(CallAttempt.id)).all()
    tasks = session.scalars(select(FollowUpTask).where(FollowUpTask.case_id == case.id,
                                                       FollowUpTask.id.not_in(ids.harness_tasks))
                            .order_by(FollowUpTask.id)).all()
    number_hash = session.scalar(select(Contact.number_hash).where(Contact.id == case.contact_id))
    dnc = session.scalars(select(DoNotCall).where(DoNotCall.number_hash == number_hash)).all()
    return Snapshot(
        interviews=tuple(InterviewRow(i.status, i.consent, i.current_question, i.language) for i in interviews),
        answers=tuple(AnswerRow(a.question_id, a.status, a.code, tuple(a.codes) if a.codes is not None else None,
                                a.value, a.raw_input) for a in answers),
        case=CaseRow(case.status, case.final_disposition, case.last_temp_disposition, case.contacted,
                     case.callback_at),
        attempts=tuple(AttemptRow(a.status, a.outcome, a.temp_disposition) for a in attempts),
        tasks=tuple((t.kind, t.status) for t in tasks),
        do_not_call=tuple((row.source, None if row.survey_id is None else
                           "main" if row.survey_id == ids.main_survey_id else "other") for row in dnc),
        other_case=(other.status, other.final_disposition),
    )


# -- the expected rows ------------------------------------------------------------------------

def _answers(entries: tuple[str, ...]) -> tuple[AnswerRow, ...]:
    rows = []
    for qid, keys in zip(QUESTIONS, entries, strict=False):
        keyed = keys.rstrip("#")
        if qid == "d_years":
            rows.append(AnswerRow(qid, AnswerStatus.ANSWERED, value=float(keyed), raw_input=keyed))
        else:
            rows.append(AnswerRow(qid, AnswerStatus.ANSWERED, code=_code(qid, keys), raw_input=keyed))
    return tuple(sorted(rows, key=lambda r: r.question_id))


def _code(qid: str, keys: str) -> int:
    """The code of a key of the bundled questionnaire: the key itself, but 6 on the
    satisfaction items is "don't know", coded 8."""
    satisfaction = ("q_police", "q_court", "q_procuratorate", "q_justice", "q_overall")
    return 8 if qid in satisfaction and keys == "6" else int(keys)


ANSWERED = AttemptRow(AttemptStatus.COMPLETED, CallStatus.ANSWERED, aapor.COMPLETE)
OPEN_ELSEWHERE = (CaseStatus.NEW, None)
NEVER_AVAILABLE = "2.21"  # dialer.final_codes.NEVER_AVAILABLE: an appointment the resident made

COMPLETE = Snapshot(
    interviews=(InterviewRow(InterviewStatus.COMPLETE, True, None, "zh"),),
    answers=_answers(WALK),
    case=CaseRow(CaseStatus.FINAL, aapor.COMPLETE, aapor.COMPLETE, True, None),
    attempts=(ANSWERED,),
    tasks=(), do_not_call=(), other_case=OPEN_ELSEWHERE,
)

RESUMED = replace(COMPLETE, attempts=(replace(ANSWERED, temp_disposition=aapor.PARTIAL), ANSWERED))

REFUSED = Snapshot(
    interviews=(InterviewRow(InterviewStatus.REFUSED, False, "consent", "zh"),),
    answers=(AnswerRow("consent", AnswerStatus.ANSWERED, code=3, raw_input="3"),),
    case=CaseRow(CaseStatus.FINAL, aapor.REFUSAL, aapor.REFUSAL, True, None),
    attempts=(replace(ANSWERED, temp_disposition=aapor.REFUSAL),),
    tasks=(), do_not_call=(), other_case=OPEN_ELSEWHERE,
)

OPTED_OUT = Snapshot(
    interviews=(InterviewRow(InterviewStatus.OPTED_OUT, False, "consent", "zh"),),
    answers=(AnswerRow("consent", AnswerStatus.ANSWERED, code=9, raw_input="9"),),
    case=CaseRow(CaseStatus.FINAL, aapor.REFUSAL, aapor.REFUSAL, True, None),
    attempts=(replace(ANSWERED, temp_disposition=aapor.REFUSAL),),
    tasks=(), do_not_call=(("ivr_opt_out", "main"),), other_case=(CaseStatus.FINAL, aapor.REFUSAL),
)

OPERATOR_AT = 6  # the resident presses 0 when q_court is asked
OPERATOR = Snapshot(
    interviews=(InterviewRow(InterviewStatus.OPERATOR, True, "q_court", "zh"),),
    answers=_answers(WALK[:OPERATOR_AT]),
    case=CaseRow(CaseStatus.FOLLOW_UP, None, aapor.OTHER_CONTACTED, True, None),
    attempts=(replace(ANSWERED, temp_disposition=aapor.OTHER_CONTACTED),),
    tasks=((TaskKind.OPERATOR, TaskStatus.OPEN),), do_not_call=(), other_case=OPEN_ELSEWHERE,
)

CALLBACK_AT = callback_time("tomorrow_evening", START, DialPolicy())  # 2026-11-03 18:30 in Shanghai
CALLBACK = Snapshot(
    interviews=(InterviewRow(InterviewStatus.CALLBACK, False, "consent", "zh"),),
    answers=(AnswerRow("consent", AnswerStatus.ANSWERED, code=2, raw_input="2"),),
    case=CaseRow(CaseStatus.CALLBACK, None, NEVER_AVAILABLE, True, CALLBACK_AT),
    attempts=(replace(ANSWERED, temp_disposition=NEVER_AVAILABLE),),
    tasks=(), do_not_call=(), other_case=OPEN_ELSEWHERE,
)

IVR = ("simulated", "twilio", "asterisk")

SCENARIOS = (
    Scenario("complete", (Call(WALK),), COMPLETE),
    Scenario("partial then resumed", (Call(WALK[:5], hang_up=True), Call(WALK[5:])), RESUMED),
    Scenario("refusal", (Call(("3",)),), REFUSED),
    Scenario("opt-out", (Call(("9",)),), OPTED_OUT),
    Scenario("operator key", (Call((*WALK[:OPERATOR_AT], "0")),), OPERATOR, channels=IVR),
    # On the console the interviewer is the operator: 0 is a key the question refuses, asked again.
    Scenario("operator key on the console", (Call((*WALK[:OPERATOR_AT], "0", *WALK[OPERATOR_AT:])),), COMPLETE,
             channels=("console",)),
    Scenario("callback chosen", (Call(("2", TOMORROW_EVENING)),), CALLBACK),
    Scenario("duplicated events", (Call(WALK),), COMPLETE, duplicate=True),
    Scenario("connection lost", (Call(WALK),), COMPLETE, lose_connection=True),
    Scenario("connection lost, then resumed", (Call(WALK[:5], hang_up=True), Call(WALK[5:])), RESUMED,
             lose_connection=True),
)
