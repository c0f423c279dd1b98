"""The bundled questionnaire walked through every branch on the simulated channel, with stored
results checked in the database: scripted residents, real persistence.

The branch table and the resume-at-every-question test run on SQLite; PostgreSQL runs the tests
whose storage differs (do-not-call, tasks, audit, deletes, transactions) and a sample of the rest,
because each test there migrates a schema of its own (about 1.5 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from engine_driver import WALK_ALL
from playback_support import plays, staff
from sim_support import CERTAIN, Fieldwork, Scripted, scripted
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.policy import DialPolicy
from dialer.schedule import callback_time
from ivr.channels.simulated import SimulatedChannel
from survey.config import Settings
from survey.db import session_scope
from survey.models import Answer, AuditLog, Case, DoNotCall, FollowUpTask, Interview, Recording
from survey.questionnaire import load_bundled
from survey.vocabulary import AnswerStatus, CallStatus, InterviewStatus, TaskKind

Q = load_bundled()
ANSWERABLE = [q.id for q in Q.questions if q.collects_answer]
PLAIN = {**WALK_ALL, "q_safety": "2", "q_suggest_yn": "2"}  # no follow-up, no recording


def channel(fieldwork: Fieldwork, resident: Scripted) -> SimulatedChannel:
    return SimulatedChannel(fieldwork.sessions, fieldwork.clock, fieldwork.world, seed=3, behaviour=CERTAIN,
                            resident=scripted(resident))


def stored(session: Session, case_id: int) -> dict[str, Answer]:
    interview_ids = select(Interview.id).where(Interview.case_id == case_id)
    rows = session.scalars(select(Answer).where(Answer.interview_id.in_(interview_ids))).all()
    return {a.question_id: a for a in rows}


@dataclass(frozen=True)
class Branch:
    name: str
    changes: dict[str, str]
    reported: str | None
    expect: dict[str, tuple[str, object]] = field(default_factory=dict)  # question -> (column, value)
    menus: dict[str, str] = field(default_factory=dict)


BRANCHES = [
    Branch("complete", WALK_ALL, InterviewStatus.COMPLETE,
           {"q_worries": ("codes", [1, 3]), "d_years": ("value", 12.0), "q_procuratorate": ("code", 8)}),
    Branch("refusal at consent", {"consent": "3"}, InterviewStatus.REFUSED, {"consent": ("code", 3)}),
    Branch("under 18", {"s_age": "2"}, InterviewStatus.SCREENED_OUT, {"s_age": ("code", 2)}),
    Branch("not resident", {"s_resident": "2"}, InterviewStatus.SCREENED_OUT, {"s_resident": ("code", 2)}),
    Branch("repeat", {"q_police": "* * 4"}, InterviewStatus.COMPLETE, {"q_police": ("reprompts", 0)}),
    Branch("invalid key", {"q_police": "7 4"}, InterviewStatus.COMPLETE,
           {"q_police": ("reprompts", 1)}),
    Branch("silence, then an answer", {"q_court": "T 5"}, InterviewStatus.COMPLETE,
           {"q_court": ("code", 5)}),
    Branch("re-prompts used up", {"q_court": "T 7 T"}, InterviewStatus.COMPLETE,
           {"q_court": ("status", AnswerStatus.NO_ANSWER)}),
    Branch("feels unsafe: worries asked", {"q_safety": "5", "q_worries": "~26#"}, InterviewStatus.COMPLETE,
           {"q_worries": ("codes", [2, 6])}),
    Branch("number out of range", {"d_years": "150 7#"}, InterviewStatus.COMPLETE,
           {"d_years": ("value", 7.0)}),
    Branch("zero years", {"d_years": "0#"}, InterviewStatus.COMPLETE, {"d_years": ("value", 0.0)}),
    Branch("empty recording", {"q_suggest": "R-"}, InterviewStatus.COMPLETE,
           {"q_suggest": ("status", AnswerStatus.NO_ANSWER)}),
    Branch("English", {}, InterviewStatus.COMPLETE, menus={"msg/language_menu": "2"}),
    Branch("hang-up in the introduction", {"consent": "H"}, None),
]


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PG = pytest.mark.postgres


@SQLITE_ONLY
@pytest.mark.parametrize("branch", BRANCHES, ids=[b.name for b in BRANCHES])
def test_each_branch_stores_its_answers_and_reports_its_status(branch: Branch, reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000001")
    resident = Scripted({**WALK_ALL, **branch.changes}, menus=branch.menus)
    result = reachable.call(channel(reachable, resident), case_id)
    assert result.status == CallStatus.ANSWERED
    assert result.interview_status == branch.reported
    with reachable.sessions() as s:
        answers = stored(s, case_id)
        for qid, (column, value) in branch.expect.items():
            assert getattr(answers[qid], column) == value, qid
        if branch.reported == InterviewStatus.COMPLETE:
            assert set(answers) == set(resident.asked)
            assert all(a.duration_ms > 0 for a in answers.values() if a.status == AnswerStatus.ANSWERED)


@SQLITE_ONLY
def test_a_complete_interview_is_stored_whole(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000002")
    result = reachable.call(channel(reachable, Scripted(WALK_ALL)), case_id)
    assert result.answered_at is not None and result.started_at < result.answered_at < result.ended_at
    with reachable.sessions() as s:
        interview = s.scalars(select(Interview).where(Interview.case_id == case_id)).one()
        assert interview.status == InterviewStatus.COMPLETE and interview.consent is True
        assert interview.completed_at is not None and interview.completed_at <= result.ended_at
        answers = stored(s, case_id)
        assert set(answers) == set(ANSWERABLE)
        assert [a.question_id for a in sorted(answers.values(), key=lambda a: a.seq)] == ANSWERABLE
        assert answers["q_police"].raw_input == "2" and answers["q_police"].mode == "ivr"
        (recording,) = s.scalars(select(Recording).where(Recording.interview_id == interview.id)).all()
        assert (recording.question_id, recording.duration_s) == ("q_suggest", 12.0)
        assert recording.attempt_id is not None and recording.attempt_id == interview.last_attempt_id


@SQLITE_ONLY
def test_a_simulated_voice_answer_says_on_its_page_that_it_has_no_audio(reachable: Fieldwork,
                                                                          tmp_path: Path) -> None:
    """Staff open a simulated call's voice answer like any other: a simulated resident has no
    voice, so the page says so instead of offering a player."""
    simulated = SimulatedChannel(reachable.sessions, reachable.clock, reachable.world, seed=3, behaviour=CERTAIN)
    recording = None
    for n in range(60):  # residents of the simulated county who leave a spoken comment
        reachable.call(simulated, reachable.add_case(f"+86138000{n:05d}"))
        with reachable.sessions() as s:
            recording = s.scalars(select(Recording)).first()
        if recording is not None:
            break
    assert recording is not None and recording.attempt_id is not None
    listener, _ = staff(Settings(recordings_dir=str(tmp_path)), reachable.sessions, reachable.clock)
    assert plays(listener, recording.id) is None
    assert "模拟呼叫，没有录音音频" in listener.text(f"/transcribe/{recording.id}")


@SQLITE_ONLY
def test_english_is_kept_on_the_interview_and_the_case(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000003")
    reachable.call(channel(reachable, Scripted(PLAIN, menus={"msg/language_menu": "2"})), case_id)
    with reachable.sessions() as s:
        assert s.get(Case, case_id).language == "en"  # type: ignore[union-attr]
        assert s.scalars(select(Interview.language).where(Interview.case_id == case_id)).one() == "en"


@SQLITE_ONLY
def test_a_known_language_is_not_asked_again(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000004")
    resident = Scripted(PLAIN, menus={"msg/language_menu": "H"})  # hanging up would fail the call
    result = reachable.call(channel(reachable, resident), case_id, language="en")
    assert result.interview_status == InterviewStatus.COMPLETE
    assert resident.steps[0].prompts[0].key == "intro/text" and resident.steps[0].prompts[0].language == "en"


def test_opting_out_writes_the_do_not_call_row(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000005")
    result = reachable.call(channel(reachable, Scripted({"consent": "9"})), case_id)
    assert result.interview_status == InterviewStatus.OPTED_OUT
    with reachable.sessions() as s:
        row = s.scalars(select(DoNotCall)).one()
        assert row.source == "ivr_opt_out" and row.survey_id == reachable.survey_id
        assert s.get(Case, case_id).contact.number_hash == row.number_hash  # type: ignore[union-attr]


def test_an_operator_request_opens_a_follow_up_task(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000006")
    result = reachable.call(channel(reachable, Scripted({**PLAIN, "q_court": "0"})), case_id)
    assert result.interview_status == InterviewStatus.OPERATOR
    with reachable.sessions() as s:
        task = s.scalars(select(FollowUpTask)).one()
        interview = s.scalars(select(Interview).where(Interview.case_id == case_id)).one()
        assert (task.kind, task.case_id, task.interview_id) == (TaskKind.OPERATOR, case_id, interview.id)
        assert "q_court" in task.note and interview.current_question == "q_court"


@SQLITE_ONLY
@pytest.mark.parametrize(("key", "slot"), [("1", "this_evening"), ("2", "tomorrow_evening"), ("3", "weekend")])
def test_a_callback_choice_becomes_a_time_inside_the_calling_windows(key: str, slot: str,
                                                                    reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000007")
    resident = Scripted({"consent": "2"}, menus={"msg/callback_menu": key})
    result = reachable.call(channel(reachable, resident), case_id)
    assert result.interview_status == InterviewStatus.CALLBACK
    assert result.callback_at is not None and result.callback_at > result.ended_at
    assert DialPolicy().calendar.is_open(result.callback_at)
    # booked when chosen (the second before the line drops), on the case at once, as every channel does
    chosen_at = result.ended_at - timedelta(seconds=1)
    assert result.callback_at == callback_time(slot, chosen_at, DialPolicy())
    with reachable.sessions() as s:
        assert s.get(Case, case_id).callback_at == result.callback_at  # type: ignore[union-attr]


@SQLITE_ONLY
def test_no_callback_time_when_the_resident_picks_none(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000008")
    result = reachable.call(channel(reachable, Scripted({"consent": "2"}, menus={"msg/callback_menu": "T"})),
                            case_id)
    assert result.interview_status == InterviewStatus.CALLBACK and result.callback_at is None


# -- dropped calls and resuming -----------------------------------------------------------------

@pytest.mark.parametrize(("db_url", "question_id"), [("sqlite", q) for q in ANSWERABLE] + [
    pytest.param("postgresql", "q_police", marks=PG)],
    indirect=["db_url"])
def test_a_dropped_call_resumes_at_its_question_on_the_next_call(question_id: str, reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000009")
    first = reachable.call(channel(reachable, Scripted(WALK_ALL, hang_up_at=question_id)), case_id)
    with reachable.sessions() as s:
        before = set(stored(s, case_id))
    if question_id == "consent":  # left before the interview began: the dialer's soft refusal
        assert first.interview_status is None
    else:
        assert first.interview_status == InterviewStatus.PARTIAL
    resident = Scripted(WALK_ALL)
    second = reachable.call(channel(reachable, resident), case_id)
    assert second.interview_status == InterviewStatus.COMPLETE
    assert resident.asked[0] == question_id
    assert not before & set(resident.asked)
    with reachable.sessions() as s:
        assert len(s.scalars(select(Interview.id).where(Interview.case_id == case_id)).all()) == 1
        assert set(stored(s, case_id)) == set(ANSWERABLE)


def test_starting_over_clears_the_answers_and_is_audited(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000010")
    reachable.call(channel(reachable, Scripted(PLAIN, hang_up_at="q_court")), case_id)
    resident = Scripted({**PLAIN, "q_safety": "1"}, menus={"msg/resume_menu": "2"})
    result = reachable.call(channel(reachable, resident), case_id)
    assert result.interview_status == InterviewStatus.COMPLETE
    assert resident.asked[0] == "q_safety"
    with reachable.sessions() as s:
        (audit,) = s.scalars(select(AuditLog).where(AuditLog.action == "answers_cleared")).all()
        assert set(audit.before or {}) == {"q_safety", "q_trend", "q_police"}
        assert stored(s, case_id)["q_safety"].code == 1


def test_each_call_commits_its_own_transaction(reachable: Fieldwork) -> None:
    case_id = reachable.add_case("+8613800000011")
    reachable.call(channel(reachable, Scripted(PLAIN, hang_up_at="q_trend")), case_id)
    with session_scope(reachable.sessions) as s:  # a separate connection sees the partial
        interview = s.scalars(select(Interview).where(Interview.case_id == case_id)).one()
        assert (interview.status, interview.current_question) == (InterviewStatus.PARTIAL, "q_trend")
