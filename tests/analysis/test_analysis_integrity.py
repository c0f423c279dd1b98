"""Data-integrity flags: speeders, straight-liners, jumps between periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
from analysis_helpers import SPEC_DICT, survey_frames

from analysis.integrity import jumps, speeders, straightliners
from analysis.pipeline import Options, run_analysis
from analysis.results import Change
from analysis.spec import parse_spec


def test_speeders_answer_most_questions_faster_than_the_prompt_allows() -> None:
    durations = pd.DataFrame({"q1": [5.0, 1.0, 1.0, np.nan], "q2": [6.0, 2.0, 9.0, 1.0], "q3": [7.0, 8.0, 9.0, np.nan]},
                             index=["r1", "r2", "r3", "r4"])
    flags = speeders(durations, {"q1": 3.0, "q2": 4.0, "q3": 4.0}, share=0.5, period="2025")
    assert [f.subject for f in flags] == ["r2", "r4"]
    assert flags[0].detail == "2 of 3 answers faster than the prompt allows (q1, q2)"
    assert speeders(durations, {"other": 1.0}) == []


def test_straightliners_give_one_code_to_every_item() -> None:
    answers = {"a": np.array([1.0, 2, 1, 3]), "b": np.array([1.0, 2, 2, 3]), "c": np.array([1.0, 2, 1, np.nan])}
    flags = straightliners(["r1", "r2", "r3", "r4"], ["T", "T", "U", "U"], answers, "1")
    assert [(f.subject, f.stratum) for f in flags] == [("r1", "T"), ("r2", "T")]


def test_jumps_are_changes_far_outside_their_interval() -> None:
    def change(stratum: str, delta: float, se: float) -> Change:
        return Change(stratum=stratum, index="safety", period_from="1", period_to="2", change=delta, se=se,
                      p_value=None, p_adjusted=None, significant=False)

    flags = jumps([change("A", 0.3, 0.05), change("B", 0.1, 0.05), change("ALL", 0.3, 0.01)], z=4)
    assert [(f.stratum, f.kind) for f in flags] == [("A", "jump")]
    assert flags[0].detail == "safety moved +0.3 from 1 to 2, +6.0 SE"


def test_the_pipeline_flags_straightlining_from_the_spec() -> None:
    responses, cells = survey_frames()
    responses.loc[:9, "q_police"] = responses.loc[:9, "q_safety"] = 1
    spec = parse_spec({"indices": {"safety": SPEC_DICT["indices"]["safety"]},
                       "integrity": {"straightlining": ["q_safety", "q_police"]}})
    run = run_analysis(responses, cells, spec, Options(by=("age_group", "sex")))
    flagged = {f.subject for f in run.result.integrity if f.kind == "straightlining"}
    assert set(responses.id[:10]) <= flagged
    assert flagged == set(responses.id[responses.q_safety == responses.q_police])
