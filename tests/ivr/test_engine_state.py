"""The engine's stored state: typed, versioned, and readable whichever release stored it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from engine_driver import WALK_ALL, Call, parse

from ivr.engine import Answered, Digits, Engine, Event, InterviewState, Phase, StateFormatError
from ivr.engine.state import _UPGRADES, VERSION, stored_state
from survey.clock import VirtualClock
from survey.questionnaire import load_bundled
from survey.vocabulary import InterviewStatus

Q = load_bundled()

# Version 1: unversioned states as the engine stored them before the state had a version (written
# down from the engine of commit b5a29d6 on the bundled questionnaire). Keep them: every stored
# version must stay readable.
V1_HUNG_UP_AT_Q_POLICE: dict[str, Any] = {
    "phase": "ended", "question": "q_police", "language": "en", "reprompts": 0, "buffer": "",
    "asked_at": "2026-11-02T11:00:27",
    "answers": {"consent": 1, "s_age": 1, "s_resident": 1, "q_safety": 4, "q_worries": [1, 3], "q_trend": 1},
    "seq": 6, "status": "partial", "consent": True}
V1_TYPING_D_YEARS: dict[str, Any] = {  # "1" typed, one key at a time, of the number of years
    "phase": "question", "question": "d_years", "language": "zh", "reprompts": 0, "buffer": "1",
    "asked_at": "2026-11-02T11:00:51",
    "answers": {"consent": 1, "s_age": 1, "s_resident": 1, "q_safety": 4, "q_worries": [1, 3], "q_trend": 1,
                "q_police": 2, "q_court": 3, "q_procuratorate": 8, "q_justice": 1, "q_overall": 2,
                "q_suggest_yn": 1, "q_suggest": None, "d_age": 2, "d_sex": 1},
    "seq": 15, "status": "in_progress", "consent": True}
V1_OPERATOR_AT_LANGUAGE_MENU: dict[str, Any] = {
    "phase": "ended", "question": None, "language": "zh", "reprompts": 0, "buffer": "", "asked_at": None,
    "answers": {}, "seq": 0, "status": "operator", "consent": None}
V1_STATES = [V1_HUNG_UP_AT_Q_POLICE, V1_TYPING_D_YEARS, V1_OPERATOR_AT_LANGUAGE_MENU]


@pytest.mark.parametrize("v1", V1_STATES)
def test_an_unversioned_state_is_read_as_version_1_and_stored_as_the_current_version(v1: dict[str, Any]) -> None:
    state = InterviewState.from_json(v1)
    assert state.to_json() == {**v1, "version": VERSION}
    assert "version" not in v1  # the stored object is not changed


def test_a_version_1_state_is_read_into_typed_fields() -> None:
    state = InterviewState.from_json(V1_HUNG_UP_AT_Q_POLICE)
    assert state.phase is Phase.ENDED and state.status is InterviewStatus.PARTIAL
    assert state.question == "q_police" and state.language == "en" and state.consent is True
    assert state.asked_at == datetime(2026, 11, 2, 11, 0, 27)
    assert state.answers["q_worries"] == [1, 3] and state.seq == 6


def test_a_call_resumes_from_a_version_1_state(clock: VirtualClock) -> None:
    call = Call(Q, clock, state=V1_HUNG_UP_AT_Q_POLICE)
    assert [p.key for p in call.start().prompts] == ["msg/resume", "msg/resume_menu"]
    assert call.engine.language == "en"
    assert call.run("1").question_id == "q_police"
    call.walk(WALK_ALL)
    assert call.engine.status == InterviewStatus.COMPLETE
    assert call.engine.snapshot()["version"] == VERSION


def test_an_entry_typed_under_version_1_is_finished_under_the_current_one(clock: VirtualClock) -> None:
    call = Call(Q, clock, state=V1_TYPING_D_YEARS)  # the next key of the same call, e.g. the next ARI event
    call.send(Digits("2", complete=False))  # d_years takes two keys: "1" was typed before the state was stored
    assert call.engine.status == InterviewStatus.COMPLETE
    assert call.answers()["d_years"].value == 12.0


def test_every_state_of_an_interview_survives_a_round_trip_through_json(clock: VirtualClock) -> None:
    snapshots = [Engine(Q, clock).snapshot()]

    def play(call: Call, events: list[Event]) -> None:
        for event in events:
            call.send(event)
            snapshots.append(call.engine.snapshot())

    play(Call(Q, clock), [Answered(), *_events("2 2 H")])  # English, a call-back request, a hang-up at its menu
    first = Call(Q, clock)
    play(first, [Answered(), *_events("1 1 1 1 2 1 H")])  # hangs up at q_police
    second = Call(Q, clock, state=first.engine.snapshot())
    play(second, [Answered(), *_events("1 1 1 1 1 1 2 2 1 ~1 ~2")])  # resumes; d_years one key at a time
    assert second.engine.status == InterviewStatus.COMPLETE
    assert {s["phase"] for s in snapshots} == set(Phase)
    assert any(s["buffer"] for s in snapshots) and any(s["asked_at"] for s in snapshots)
    for stored in snapshots:
        assert stored["version"] == VERSION
        through_the_column = json.loads(json.dumps(stored))
        assert through_the_column == stored
        assert InterviewState.from_json(through_the_column).to_json() == stored


def _events(script: str) -> list[Event]:
    return [event for token in script.split() for event in parse(token)]


def test_the_stored_form_shares_nothing_with_the_state() -> None:
    state = InterviewState.from_json(V1_HUNG_UP_AT_Q_POLICE)
    stored = state.to_json()
    stored["answers"]["q_worries"].append(5)
    stored["answers"]["q_police"] = 1
    assert state.answers["q_worries"] == [1, 3] and "q_police" not in state.answers
    state.answers["q_worries"].append(2)
    assert V1_HUNG_UP_AT_Q_POLICE["answers"]["q_worries"] == [1, 3]


@pytest.mark.parametrize("version", [VERSION + 1, 99])
def test_a_state_from_a_later_release_is_refused(version: int) -> None:
    with pytest.raises(StateFormatError, match=f"version {version} is newer than this release reads"):
        InterviewState.from_json({**V1_TYPING_D_YEARS, "version": version})
    with pytest.raises(StateFormatError, match="newer"):
        Engine(Q, VirtualClock(datetime(2026, 11, 2)), state={**V1_TYPING_D_YEARS, "version": version})


@pytest.mark.parametrize("version", [0, -1, "2", 2.0, True, None])
def test_a_version_that_is_not_a_version_number_is_refused(version: object) -> None:
    with pytest.raises(StateFormatError, match="is not a version number"):
        InterviewState.from_json({**V1_TYPING_D_YEARS, "version": version})


@pytest.mark.parametrize("broken", [
    {k: v for k, v in V1_TYPING_D_YEARS.items() if k != "buffer"},
    {**V1_TYPING_D_YEARS, "phase": "dancing"},
    {**V1_TYPING_D_YEARS, "status": "asleep"},
    {**V1_TYPING_D_YEARS, "asked_at": "yesterday"},
    {**V1_TYPING_D_YEARS, "answers": [1, 2]},
], ids=["missing key", "phase", "status", "asked_at", "answers"])
def test_a_malformed_state_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(StateFormatError, match="malformed interview state"):
        InterviewState.from_json(broken)


def test_there_is_one_upgrade_step_per_version() -> None:
    assert len(_UPGRADES) == VERSION - 1


@pytest.mark.parametrize("column", [None, {}])
def test_an_interview_without_a_state_starts_fresh(column: dict[str, Any] | None) -> None:
    assert stored_state(column) is None
    engine = Engine(Q, VirtualClock(datetime(2026, 11, 2)), state=column, language="en")
    assert (engine.phase, engine.question, engine.consent, engine.language) == (Phase.NEW, None, None, "en")


def test_the_typed_accessors_follow_the_interview(clock: VirtualClock) -> None:
    call = Call(Q, clock)
    call.start()
    assert call.engine.phase is Phase.LANGUAGE
    call.run("1 1")
    assert (call.engine.phase, call.engine.question, call.engine.consent) == (Phase.QUESTION, "s_age", True)
    call.run("H")
    assert (call.engine.phase, call.engine.status) == (Phase.ENDED, InterviewStatus.PARTIAL)
