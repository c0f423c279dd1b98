"""The simulated channel with its behaviour model: timing, reproducibility, who picks up, and
whether the stored answers are the residents' hidden ones. One small campaign (SQLite) is shared."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sim_support import BUNDLED, CERTAIN, Fieldwork
from sqlalchemy import select

from dialer.outcomes import apply_result
from dialer.protocol import CallResult
from ivr.channels.simulated import AGE_CODES, SEX_CODES, Behaviour, Person, SimulatedChannel, World, daypart
from ivr.channels.simulated import from_settings as simulated_from_settings
from ivr.channels.simulated.world import FAX, NON_WORKING
from survey import aapor
from survey.clock import VirtualClock
from survey.config import load_settings
from survey.db import make_engine, session_factory, upgrade
from survey.models import Answer, Interview
from survey.vocabulary import AnswerStatus, CallStatus, InterviewStatus

MONDAY_1830_LOCAL = datetime(2026, 11, 2, 10, 30)  # UTC
FINISHED = (InterviewStatus.COMPLETE, InterviewStatus.REFUSED, InterviewStatus.SCREENED_OUT,
            InterviewStatus.OPTED_OUT, InterviewStatus.OPERATOR)


def fresh_fieldwork(path: Path, world: World, start: datetime = MONDAY_1830_LOCAL) -> Fieldwork:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return Fieldwork(session_factory(engine), VirtualClock(start), world)


@dataclass
class Campaign:
    fieldwork: Fieldwork
    people: dict[int, Person]
    results: list[tuple[int, CallResult]]

    def completes(self) -> list[int]:
        return [case for case, r in self.results if r.interview_status == InterviewStatus.COMPLETE]


def run_campaign(fieldwork: Fieldwork, channel: SimulatedChannel, per_township: int, attempts: int) -> Campaign:
    """Every case called up to ``attempts`` times, on weekday evenings, until it is settled."""
    cases = fieldwork.add_cases(per_township)
    people = {c: fieldwork.person(c) for c in cases}
    results: list[tuple[int, CallResult]] = []
    open_cases = list(cases)
    for _ in range(attempts):
        still_open = []
        for case in open_cases:
            result = fieldwork.call(channel, case)
            results.append((case, result))
            settled = result.status in (CallStatus.NON_WORKING, CallStatus.FAX) or result.interview_status in FINISHED
            if not settled:
                still_open.append(case)
        open_cases = still_open
        fieldwork.clock.advance(timedelta(days=1) - timedelta(minutes=len(open_cases)))
    return Campaign(fieldwork, people, results)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    world = World(seed=21, townships=3)
    fieldwork = fresh_fieldwork(tmp_path_factory.mktemp("campaign") / "c.db", world)
    channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, world, seed=4)
    return run_campaign(fieldwork, channel, per_township=120, attempts=4)


def test_every_network_outcome_occurs(campaign: Campaign) -> None:
    statuses = Counter(r.status for _, r in campaign.results)
    assert set(statuses) == {CallStatus.ANSWERED, CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.MACHINE,
                             CallStatus.FAX, CallStatus.NON_WORKING}
    interviews = Counter(r.interview_status for _, r in campaign.results if r.status == CallStatus.ANSWERED)
    assert interviews[InterviewStatus.COMPLETE] > 80  # about 100 (87 to 105 over seeds 1 to 8)
    assert {None, InterviewStatus.REFUSED, InterviewStatus.PARTIAL, InterviewStatus.SCREENED_OUT} <= set(interviews)


def test_times_are_ordered_and_plausible(campaign: Campaign) -> None:
    for _, r in campaign.results:
        assert r.started_at <= (r.answered_at or r.started_at) <= r.ended_at
        assert r.provider_call_id and r.provider_call_id.startswith("SIM-")
    durations = [(r.ended_at - r.started_at).total_seconds() for c, r in campaign.results
                 if r.interview_status == InterviewStatus.COMPLETE]
    assert 90 < sorted(durations)[len(durations) // 2] < 600  # a three-minute interview, give or take


def test_machines_are_reported_as_machine_start(campaign: Campaign) -> None:
    machines = [(c, r) for c, r in campaign.results if r.status == CallStatus.MACHINE]
    assert machines
    assert all(r.amd_result == "machine_start" and r.answered_at is not None for _, r in machines)
    assert all(campaign.people[c].voicemail for c, _ in machines)


def test_a_non_working_number_is_non_working_on_every_attempt(campaign: Campaign) -> None:
    for case, r in campaign.results:
        assert (r.status == CallStatus.NON_WORKING) == (campaign.people[case].line == NON_WORKING)


def test_stored_answers_are_the_residents_hidden_ones(campaign: Campaign) -> None:
    completes = campaign.completes()
    with campaign.fieldwork.sessions() as s:
        for case in completes:
            person = campaign.people[case]
            rows = s.scalars(select(Answer).join(Interview).where(Interview.case_id == case)).all()
            got = {a.question_id: a for a in rows}
            assert got["d_age"].code == AGE_CODES[person.age_group] and got["d_sex"].code == SEX_CODES[person.sex]
            assert got["d_years"].value == person.years
            for question in ("q_safety", "q_police", "q_overall"):
                assert got[question].code == person.answers[question]
            assert ("q_worries" in got) == (person.answers["q_safety"] in (4, 5))


def test_young_people_and_men_are_under_represented(campaign: Campaign) -> None:
    world = campaign.fieldwork.world
    adults = sum(t.adults for t in world.townships)
    young = sum(t.population[("18-29", s)] for t in world.townships for s in "MF") / adults
    men = sum(n for t in world.townships for (_, s), n in t.population.items() if s == "M") / adults
    respondents = [campaign.people[c] for c in campaign.completes()]
    assert sum(p.age_group == "18-29" for p in respondents) / len(respondents) < young - 0.03
    assert sum(p.sex == "M" for p in respondents) / len(respondents) < men - 0.03


def test_the_dialer_takes_every_result(campaign: Campaign) -> None:
    fieldwork = campaign.fieldwork
    with fieldwork.sessions() as s:
        attempt_of = {r.provider_call_id: int(r.provider_call_id.split("-")[1]) for _, r in campaign.results
                      if r.provider_call_id}
        temps = Counter()
        for _, r in campaign.results[:300]:
            applied = apply_result(s, attempt_of[r.provider_call_id], r, fieldwork.clock)
            if applied is not None:
                temps[applied.temp] += 1
        s.rollback()
    assert all(code in aapor.DISPOSITIONS or code == "2.21" for code in temps)
    assert temps[aapor.NON_WORKING] and temps[aapor.COMPLETE] and temps[aapor.NO_ANSWER]


# -- calls on their own -------------------------------------------------------------------------

def test_a_call_never_moves_the_shared_clock(tmp_path: Path) -> None:
    world = World(seed=2, townships=2)
    fieldwork = fresh_fieldwork(tmp_path / "c.db", world)
    channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, world)
    case = fieldwork.add_cases(3)[0]
    before = fieldwork.clock.now()
    result = channel.place_call(fieldwork.request(case))
    assert fieldwork.clock.now() == before == result.started_at


def test_the_same_seeds_replay_the_same_calls_and_another_seed_does_not(tmp_path: Path) -> None:
    world = World(seed=3, townships=2)

    def replay(name: str, seed: int) -> list[tuple[object, ...]]:
        fieldwork = fresh_fieldwork(tmp_path / name, world)
        channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, world, seed=seed)
        cases = fieldwork.add_cases(25)
        out = []
        for case in cases * 2:
            r = fieldwork.call(channel, case)
            out.append((r.status, r.interview_status, r.answered_at, r.ended_at, r.callback_at))
        return out

    first = replay("a.db", seed=1)
    assert replay("b.db", seed=1) == first
    assert replay("c.db", seed=2) != first


def test_evenings_reach_more_residents_than_weekday_daytime(tmp_path: Path) -> None:
    world = World(seed=8, townships=2)

    def answered_share(start: datetime, name: str) -> float:
        fieldwork = fresh_fieldwork(tmp_path / name, world, start)
        behaviour = Behaviour(intro_hangup=1.0)  # keep the calls short: everyone hangs up at once
        channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, world, behaviour=behaviour)
        results = [channel.place_call(fieldwork.request(case)) for case in fieldwork.add_cases(150)]
        working = [r for r in results if r.status not in (CallStatus.NON_WORKING, CallStatus.FAX)]
        return sum(r.status == CallStatus.ANSWERED for r in working) / len(working)

    weekday_10am = answered_share(datetime(2026, 11, 3, 2, 0), "day.db")
    weekday_7pm = answered_share(datetime(2026, 11, 3, 11, 0), "evening.db")
    assert weekday_7pm > weekday_10am + 0.08


@pytest.mark.parametrize(("local", "part"), [(datetime(2026, 11, 2, 9), "weekday_day"),
                                             (datetime(2026, 11, 2, 19), "weekday_evening"),
                                             (datetime(2026, 11, 7, 16, 59), "weekend_day"),
                                             (datetime(2026, 11, 8, 17), "weekend_evening"),
                                             (datetime(2026, 11, 8, 22), "night"), (datetime(2026, 11, 2, 7), "night")])
def test_dayparts(local: datetime, part: str) -> None:
    assert daypart(local) == part


def test_the_dialer_builds_it_from_settings(tmp_path: Path) -> None:
    fieldwork = fresh_fieldwork(tmp_path / "c.db", World(seed=1, townships=1))
    channel = simulated_from_settings(load_settings({}), fieldwork.sessions, fieldwork.clock)
    assert channel.name == "simulated" and channel.lines_in_use() == 0
    assert fieldwork.call(channel, fieldwork.add_case("+8613800000001")).status in set(CallStatus)  # the survey's world
    with pytest.raises(ValueError, match="from_settings"):
        SimulatedChannel(load_settings({}), fieldwork.sessions, fieldwork.clock)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "message"), [
    ({"refuse": 1.2}, "Behaviour.refuse must be a probability"),
    ({"refuse": 0.6, "callback": 0.6}, "refuse \\+ callback \\+ opt_out exceed 1"),
    ({"think_s": (3.0, 1.0)}, "Behaviour.think_s must be"),
    ({"pickup": {"night": {"18-29": 0.1}}}, "Behaviour.pickup\\['weekday_day'\\]"),
])
def test_behaviour_settings_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Behaviour(**changes)  # type: ignore[arg-type]


def test_weighting_matters_young_men_pick_up_less_and_answer_differently() -> None:
    """Expected respondents' shares, with the chance to pick up on a weekday evening as the only
    selection: satisfaction comes out too high and safety too low unless the sample is weighted."""
    from ivr.channels.simulated.attitudes import ITEMS_BY_QUESTION, cell_distribution

    world, behaviour = World(seed=2026), Behaviour()

    def shares(question: str) -> tuple[float, float]:
        item = ITEMS_BY_QUESTION[question]
        true = [0.0, 0.0]
        reached = [0.0, 0.0]
        for town in world.townships:
            for (age, sex), n in town.cells():
                dist = cell_distribution(item, world.climate, town.code, (age, sex))
                favourable, valid = sum(dist[c] for c in (1, 2, 3)), 1 - dist[8]
                person = Person("", town.code, "household", False, age, sex, 0, False, False, False, 1.0)
                pickup = behaviour.pickup_chance("weekday_evening", person)
                true = [true[0] + n * favourable, true[1] + n * valid]
                reached = [reached[0] + n * pickup * favourable, reached[1] + n * pickup * valid]
        return true[0] / true[1], reached[0] / reached[1]

    truth, unweighted = shares("q_overall")
    assert unweighted > truth + 0.015
    truth, unweighted = shares("q_safety")
    assert unweighted < truth - 0.01


def test_a_silent_resident_leaves_opinion_questions_unanswered_after_every_re_prompt(tmp_path: Path) -> None:
    """``silent``: no key however often a question is asked; the engine records no answer and goes
    on, so the interview still completes (the live view's timeout rate counts these)."""
    world = World(seed=21, townships=3)
    fieldwork = fresh_fieldwork(tmp_path / "s.db", world)
    quiet = replace(CERTAIN, silent=1.0, refuse=0.0, callback=0.0, opt_out=0.0, intro_hangup=0.0, break_off=0.0,
                    operator=0.0)
    channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, world, seed=4, behaviour=quiet)
    case = next(c for c in fieldwork.add_cases(10) if _eligible(fieldwork.person(c)))
    assert fieldwork.call(channel, case).interview_status == InterviewStatus.COMPLETE
    questions = {q.id: q for q in BUNDLED.questions}
    with fieldwork.sessions() as s:
        answers = s.scalars(select(Answer).join(Interview).where(Interview.case_id == case)).all()
    opinions = [a for a in answers if questions[a.question_id].role is None]
    assert len(opinions) >= 5
    assert all(a.status == AnswerStatus.NO_ANSWER and a.code is None for a in opinions)
    assert {a.question_id for a in answers if questions[a.question_id].role == "weighting"} == {"d_age", "d_sex"}


def _eligible(person: Person) -> bool:
    return person.line not in (NON_WORKING, FAX) and not person.minor and not person.newcomer
