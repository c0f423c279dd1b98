"""Rehearsing weighting: answers that lean by age (a rehearsal's ``effects``) and residents who pick
up more often the older they are. The completes then over-represent the old, the unweighted share
is off the township's set truth, and weighting by age group brings the estimate back towards it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sim_support import CERTAIN, Fieldwork
from sqlalchemy import select

from analysis.pipeline import Options, run_analysis
from analysis.spec import parse_spec
from ivr.channels.simulated import SimulatedChannel, World
from ivr.channels.simulated.channel import rehearsal_world
from ivr.channels.simulated.rehearsal import DEFAULT_EFFECTS, load_rehearsal, parse_rehearsal
from survey.clock import VirtualClock
from survey.db import make_engine, session_factory, upgrade
from survey.models import Answer, Interview
from survey.questionnaire import load
from survey.surveys import StratumSpec
from survey.vocabulary import AnswerStatus, InterviewStatus

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
OWN = load(EXAMPLES / "own-questionnaire.yaml")
AGES = {"18-29": 11, "30-44": 12, "45-59": 13, "60+": 14}
REHEARSAL = parse_rehearsal({
    "seed": 3,
    "demographics": {"age_group": {"question": "age", "codes": {code: label for label, code in AGES.items()}},
                     "sex": {"question": "sex", "codes": {1: "M", 2: "F"}}},
    "population": {"all": {"18-29": {"M": 3000, "F": 3000}, "30-44": {"M": 3000, "F": 3000},
                           "45-59": {"M": 2000, "F": 2000}, "60+": {"M": 2000, "F": 2000}}},
    "answers": {"all": {"roads": {1: 40, 2: 30, 3: 25, 8: 5}}},
    "effects": {"roads": {"codes": [1], "age_group": {"18-29": 0.2, "30-44": 0.5, "45-59": 2.0, "60+": 5.0}}},
})
# The old answer the phone, the young seldom: the completes lean old.
AGE_DIFFERENTIAL = replace(CERTAIN, pickup={part: {"18-29": 0.2, "30-44": 0.4, "45-59": 0.7, "60+": 0.95}
                                            for part in CERTAIN.pickup}, refuse=0.0, callback=0.0, opt_out=0.0,
                           break_off=0.0, intro_hangup=0.0)


def test_weighting_brings_an_age_leaning_estimate_back_to_the_set_truth(tmp_path: Path) -> None:
    world = World.for_survey([StratumSpec("A1", "甲镇", "Jia Town")], REHEARSAL.for_questionnaire(OWN))
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    fieldwork = Fieldwork(session_factory(engine), VirtualClock(datetime(2026, 11, 2, 10, 30)), world,
                          questionnaire=OWN)
    channel = SimulatedChannel(fieldwork.sessions, fieldwork.clock, rehearsal_world(REHEARSAL), seed=5,
                               behaviour=AGE_DIFFERENTIAL)
    for case in fieldwork.add_cases(1400):
        fieldwork.call(channel, case)
    responses = _completes(fieldwork)
    truth = _share_good(world.distribution("roads", "A1"))
    unweighted = (responses["roads"] == "1").sum() / (responses["roads"] != "8").sum()
    cells = pd.DataFrame([{"township": "A1", "age": str(AGES[age]), "N": n}
                          for age in AGES for n in [sum(m for (a, _s), m in world.township("A1").cells() if a == age)]])
    spec = parse_spec({"indices": {"roads_good": {"question": "roads", "kind": "share", "favourable": [1],
                                                  "exclude": [8]}}})
    result = run_analysis(responses, cells, spec, Options(by=("age",))).result
    weighted = next(e.estimate for e in result.estimates if e.stratum == "A1" and e.index == "roads_good")
    assert weighted is not None
    assert len(responses) > 250 and responses["age"].value_counts()["14"] > responses["age"].value_counts()["11"]
    assert unweighted - truth > 0.08  # the old are over-represented and like the roads more
    assert abs(weighted - truth) < abs(unweighted - truth) / 2
    assert abs(weighted - truth) < 0.06  # about three standard errors at these cell sizes


def _share_good(distribution: dict[int, float]) -> float:
    return distribution[1] / (1 - distribution.get(8, 0.0))


def _completes(fieldwork: Fieldwork) -> pd.DataFrame:
    with fieldwork.sessions() as s:
        rows = s.execute(select(Interview.id, Answer.question_id, Answer.code)
                         .join(Answer, Answer.interview_id == Interview.id)
                         .where(Interview.status == InterviewStatus.COMPLETE, Answer.status == AnswerStatus.ANSWERED,
                                Answer.question_id.in_(("roads", "age")))).all()
    by_interview: dict[int, dict[str, str]] = {}
    for interview, question, code in rows:
        by_interview.setdefault(interview, {})[question] = str(int(code))
    frame = pd.DataFrame([{"id": i, "township": "A1", "wave": "2026-11", **answers}
                          for i, answers in by_interview.items() if {"roads", "age"} <= set(answers)])
    return frame


def test_a_rehearsal_file_sets_effects_or_gets_plausible_ones() -> None:
    example = load_rehearsal(EXAMPLES / "rehearsal.yaml")
    assert example.effects["roads"].age_group["60+"] > 1 > example.effects["roads"].age_group["18-29"]
    assert parse_rehearsal({}).effects == DEFAULT_EFFECTS
    assert parse_rehearsal({"effects": {}}).effects == {}
    leaning = parse_rehearsal({}).for_questionnaire(OWN)
    assert "roads" in leaning.effects and "age" not in leaning.effects and "visits" not in leaning.effects
    for wrong, words in (({"roads": {"age_group": {"18-30": 2}}}, "age_group has no 18-30"),
                         ({"roads": {"sex": {"M": 0}}}, "more than 0"),
                         ({"roads": {"colour": {}}}, r"unknown key\(s\) colour")):
        with pytest.raises(ValueError, match=words):
            parse_rehearsal({"effects": wrong})
    assert parse_rehearsal({"effects": {"nope": {"codes": [1]}}}).problems(OWN, ["A1"]) == \
        ["effects: no question 'nope' in questionnaire " + OWN.id]
