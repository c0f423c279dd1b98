"""Rehearsal: the simulated channel runs a centre's own survey (docs/examples/own-questionnaire.yaml,
townships A1, B2, C3) with the rehearsal file of docs/examples/rehearsal.yaml. One campaign of a few
hundred answered calls (SQLite) is shared."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest
from sim_support import CERTAIN, Fieldwork
from sqlalchemy import select

from dialer.protocol import CallResult
from ivr.channels.simulated import SimulatedChannel, World
from ivr.channels.simulated import from_settings as simulated_from_settings
from ivr.channels.simulated.answers import OwnAnswers
from ivr.channels.simulated.behaviour import Behaviour
from ivr.channels.simulated.channel import RECORDING_SCHEME, rehearsal_behaviour, rehearsal_world
from ivr.channels.simulated.rehearsal import Rehearsal, load_rehearsal, parse_rehearsal
from ivr.channels.simulated.resident import Resident
from survey.clock import VirtualClock
from survey.config import load_settings
from survey.db import make_engine, session_factory, upgrade
from survey.models import Answer, Interview, Recording
from survey.questionnaire import load, loads
from survey.surveys import StratumSpec
from survey.vocabulary import AnswerStatus, CallStatus, InterviewStatus

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
OWN = load(EXAMPLES / "own-questionnaire.yaml")
REHEARSAL_FILE = EXAMPLES / "rehearsal.yaml"
REHEARSAL = load_rehearsal(REHEARSAL_FILE)
STRATA = [StratumSpec("A1", "甲镇", "Jia Town"), StratumSpec("B2", "乙乡", "Yi Township"),
          StratumSpec("C3", "丙街道", "Bing Subdistrict")]
AGE_CODES = {"18-29": 11, "30-44": 12, "45-59": 13, "60+": 14}
START = datetime(2026, 11, 2, 10, 30)  # UTC: a Monday, 18:30 local
PER_TOWNSHIP = 160


def own_world(rehearsal: Rehearsal = REHEARSAL) -> World:
    return World.for_survey(STRATA, rehearsal)


def fieldwork_at(path: Path, world: World) -> Fieldwork:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return Fieldwork(session_factory(engine), VirtualClock(START), world, questionnaire=OWN)


@dataclass
class Campaign:
    fieldwork: Fieldwork
    behaviour_rates: dict[str, float]
    results: dict[int, CallResult]
    answers: dict[int, dict[str, Answer]]
    recordings: dict[int, set[str]]

    def answered(self) -> list[int]:
        return [c for c, r in self.results.items() if r.status == CallStatus.ANSWERED]

    def with_status(self, *statuses: str) -> list[int]:
        return [c for c, r in self.results.items() if r.interview_status in statuses]

    def given(self, case: int) -> dict[str, Answer]:
        """The case's answers, without the questions the resident stayed silent at."""
        return {q: a for q, a in self.answers[case].items() if a.status == AnswerStatus.ANSWERED}

    def in_township(self, question: str, town: str, column: str = "code") -> Counter[object]:
        """The completes' answers to ``question`` in ``town``."""
        return Counter(getattr(self.given(c)[question], column) for c in self.with_status(InterviewStatus.COMPLETE)
                       if self.fieldwork.townships[c] == town and question in self.given(c))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    """Every case called once; everyone picks up, nobody hangs up during the introduction, and
    residents break off twice as often as the file says, so that a few hundred calls show it."""
    fieldwork = fieldwork_at(tmp_path_factory.mktemp("rehearsal") / "r.db", own_world())
    rates = {**REHEARSAL.behaviour, "break_off": 0.02, "intro_hangup": 0.0}
    behaviour = replace(CERTAIN, **rates)
    channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, rehearsal_world(REHEARSAL), seed=5,
                               behaviour=behaviour)
    cases = fieldwork.add_cases(PER_TOWNSHIP)
    results = {case: fieldwork.call(channel, case) for case in cases}
    with fieldwork.sessions() as s:
        rows = s.execute(select(Interview.case_id, Answer).join(Answer, Answer.interview_id == Interview.id)).all()
        recorded = s.execute(select(Interview.case_id, Recording).join(Recording)).all()
        answers: dict[int, dict[str, Answer]] = {}
        for case, answer in rows:
            answers.setdefault(case, {})[answer.question_id] = answer
        recordings: dict[int, set[str]] = {}
        for case, recording in recorded:
            assert recording.path.startswith(RECORDING_SCHEME)  # no audio
            recordings.setdefault(case, set()).add(recording.question_id)
    return Campaign(fieldwork, rates, results, answers, recordings)


def test_the_example_file_fits_the_example_questionnaire() -> None:
    assert REHEARSAL.problems(OWN, [s.code for s in STRATA]) == []
    assert rehearsal_behaviour(REHEARSAL.behaviour).refuse == 0.12


def test_what_does_not_fit_is_named() -> None:
    wrong = parse_rehearsal({"answers": {"Z9": {"roads": {1: 1}}, "all": {"roads": {5: 1}, "nope": {1: 1},
                                                                          "visits": {31: 1}, "comment": {1: 1}}}})
    problems = "; ".join(wrong.problems(OWN, ["A1"]))
    for part in ("no township 'Z9'", "roads has no code(s) 5", "no question 'nope'", "31 is outside 0..30",
                 "comment is a open question"):
        assert part in problems
    with pytest.raises(ValueError, match="unknown section"):
        parse_rehearsal({"answer": {}})
    with pytest.raises(ValueError, match="unknown cell"):
        parse_rehearsal({"population": {"all": {"18-24": {"M": 5}}}})
    with pytest.raises(ValueError, match="behaviour has no rate"):
        rehearsal_behaviour({"refuses": 0.1})


def test_townships_are_the_surveys_own() -> None:
    world = own_world()
    assert [(t.code, t.name_zh) for t in world.townships] == [("A1", "甲镇"), ("B2", "乙乡"), ("C3", "丙街道")]
    assert world.township("C3").population[("60+", "F")] == 2300  # the file's own
    assert world.township("A1").population[("60+", "F")] == 3000  # the file's "all"
    drawn = World.for_survey(STRATA).township("A1")  # no file: a typical town
    assert 12_000 <= drawn.adults <= 30_000


def test_every_question_type_gets_plausible_answers(campaign: Campaign) -> None:
    completes = campaign.with_status(InterviewStatus.COMPLETE)
    assert len(completes) > 250
    for case in completes:
        person = campaign.fieldwork.person(case)
        got = campaign.given(case)
        assert got["age"].code == AGE_CODES[person.age_group] and got["sex"].code == {"M": 1, "F": 2}[person.sex]
        if "roads" in got:
            assert got["roads"].code in {1, 2, 3, 8}
        if "visits" in got:
            assert 0 <= (got["visits"].value or 0) <= 30 and float(got["visits"].value or 0).is_integer()
        if "comment_yn" in got:
            assert got["comment_yn"].code in {1, 2}
        if "road_problems" in got:
            assert 1 <= len(got["road_problems"].codes or []) <= 3 and set(got["road_problems"].codes or []) <= {1, 2, 3, 4}
    assert set(campaign.in_township("visits", "B2", "value")) == {0, 1, 2, 5}  # the file's values for B2
    assert len(campaign.in_township("visits", "A1", "value")) > 15  # elsewhere every value of 0..30 equally


def test_skip_logic_is_followed(campaign: Campaign) -> None:
    completes = campaign.with_status(InterviewStatus.COMPLETE)
    for case in completes:
        got = campaign.answers[case]
        assert ("road_problems" in got) == (got["roads"].code == 3)
        assert ("comment" in got) == (got["comment_yn"].code == 1) == ("comment" in campaign.recordings.get(case, ()))
    assert any("road_problems" in campaign.answers[c] for c in completes)
    assert any("comment" in campaign.answers[c] for c in completes)


def _near(count: int, n: int, p: float) -> bool:
    return abs(count / n - p) <= 4 * math.sqrt(p * (1 - p) / n) + 0.005


def test_refusals_opt_outs_callbacks_and_break_offs_at_the_configured_rates(campaign: Campaign) -> None:
    answered, rates = campaign.answered(), campaign.behaviour_rates
    n = len(answered)
    assert n > 350
    assert _near(len(campaign.with_status(InterviewStatus.REFUSED)), n, rates["refuse"])
    assert _near(len(campaign.with_status(InterviewStatus.OPTED_OUT)), n, rates["opt_out"])
    assert _near(len(campaign.with_status(InterviewStatus.CALLBACK)), n, rates["callback"])
    agreed = [c for c in answered if campaign.answers[c]["agree"].code == 1]
    # About eight questions after consent, each broken off with 2%: 1 - 0.98 ** 8 = 15%.
    assert _near(len(campaign.with_status(InterviewStatus.PARTIAL)), len(agreed), 1 - 0.98 ** 8)


def test_a_townships_configured_distribution_is_recovered(campaign: Campaign) -> None:
    world = campaign.fieldwork.world
    for town in ("A1", "B2", "C3"):
        codes = campaign.in_township("roads", town)
        n = sum(codes.values())
        for code, share in world.distribution("roads", town).items():
            assert _near(codes[code], n, share), (town, code, codes)
    unleaning = World.for_survey(STRATA, replace(REHEARSAL, effects={}))
    assert unleaning.distribution("roads", "A1")[3] == pytest.approx(0.45)  # the file's weights, as set

    def lean(town: str) -> float:  # how much the file's age and sex effects move code 1's share
        return world.distribution("roads", town)[1] - unleaning.distribution("roads", town)[1]

    assert lean("C3") > lean("B2") > 0  # C3's residents are older than B2's (the file's population)


def test_defaults_without_a_rehearsal_file() -> None:
    world = World.for_survey(STRATA)
    people = [world.person(f"+86138{i:08d}", "A1") for i in range(400)]
    own = OwnAnswers(world.seed)
    roads = Counter(own.default_code(OWN.question("roads"), p) for p in people)
    assert set(roads) == {1, 2, 3, 8} and roads[8] < 40
    assert len({own.number(OWN.question("visits"), p) for p in people}) == 31
    problems = [own.codes(OWN.question("road_problems"), p) for p in people]
    assert all(1 <= len(c) <= 3 for c in problems) and len(set(problems)) > 8
    adult = OWN.question("adult")
    assert {own.default_code(adult, p) == 2 for p in people} == {True, False}
    assert all((own.default_code(adult, p) == 2) == (p.minor or p.newcomer) for p in people)


SAME_IDS = """
id: own_ids
version: "1"
languages: [zh]
questions:
  - id: q_court
    type: single
    text: {zh: 法院满意请按1，比较满意2，不太满意3，不满意4，说不清8。}
    choices:
      - {key: 1, code: 1, label: {zh: 满意}}
      - {key: 2, code: 2, label: {zh: 比较满意}}
      - {key: 3, code: 3, label: {zh: 不太满意}}
      - {key: 4, code: 4, label: {zh: 不满意}}
      - {key: 8, code: 8, label: {zh: 说不清}, missing: true}
  - id: d_age
    type: single
    role: weighting
    text: {zh: 18到34岁请按1，35到59岁按2，60岁及以上按3。}
    choices:
      - {key: 1, code: 1, label: {zh: 18-34岁}}
      - {key: 2, code: 2, label: {zh: 35-59岁}}
      - {key: 3, code: 3, label: {zh: 60岁及以上}}
settings: {consent: not_required}
"""


def test_own_questions_with_the_bundled_ids_but_other_codes_are_answered_as_own_questions() -> None:
    """A centre's q_court on a 4-point scale and d_age of 3 groups: before, the residents answered them
    with the bundled questionnaire's codes, and a code the question lacks (5 很不满意, 4 for 60+) was
    keyed as its first choice, so 满意 and 18-34岁 swelled (in my round q_court drew 122 满意 of 321)."""
    own = loads(SAME_IDS, name="own.yaml")
    world = World.for_survey(STRATA)
    answers: dict[str, Counter[int]] = {"q_court": Counter(), "d_age": Counter()}
    for i in range(600):
        resident = Resident(world.person(f"+86139{i:08d}", "A1"), Behaviour(), own, random.Random(i), str)
        for question in answers:
            answers[question][resident._key_for(own.question(question), resident._code(own.question(question)))] += 1
    court, age = answers["q_court"], answers["d_age"]
    assert set(court) == {1, 2, 3, 4, 8} and max(court[k] for k in (1, 2, 3, 4)) < 600 * 0.32, court  # about even
    assert age[1] < 600 * 0.4 and age[3] > 600 * 0.2, age  # the 60+ not keyed as 18-34


def test_the_dialer_builds_the_rehearsal_from_settings(tmp_path: Path) -> None:
    fieldwork = fieldwork_at(tmp_path / "s.db", own_world())
    settings = load_settings({"MINYI_SIMULATED_REHEARSAL": str(REHEARSAL_FILE)})
    channel = simulated_from_settings(settings, fieldwork.sessions, fieldwork.clock)
    assert channel.behaviour.refuse == 0.12 and channel.seed == 7
    assert fieldwork.call(channel, fieldwork.add_case("+8613800000001", "B2")).status in set(CallStatus)
    misfit = tmp_path / "misfit.yaml"
    misfit.write_text("answers: {Z9: {roads: {1: 1}}}\n", encoding="utf-8")
    channel = simulated_from_settings(replace(settings, simulated_rehearsal=str(misfit)), fieldwork.sessions,
                                      fieldwork.clock)
    with pytest.raises(ValueError, match="no township 'Z9'"):
        fieldwork.call(channel, fieldwork.add_case("+8613800000002", "B2"))
