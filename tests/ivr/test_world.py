"""The synthetic county: townships, residents, phone samples, files, and the true rates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dialer.frames import read_frame
from ivr.channels.simulated import AGE_GROUPS, COUNTY, FrameMix, World
from ivr.channels.simulated.attitudes import (
    ITEMS,
    ITEMS_BY_QUESTION,
    cell_distribution,
    draw_answer,
    draw_latent,
)
from ivr.channels.simulated.county import NAMES, seeded
from survey.phones import normalise
from survey.questionnaire import bundled_path
from survey.surveys import read_strata_csv

INDICES = {
    "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
    "safety_score": {"question": "q_safety", "kind": "score", "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0},
                     "exclude": [8, 9]},
    "police": {"question": "q_police", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
    "court": {"question": "q_court", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
    "law": {"kind": "composite", "components": {"police": 3, "court": 1}},
}


@pytest.fixture(scope="module")
def county() -> World:
    return World(seed=5)


def test_the_default_county_has_21_named_townships(county: World) -> None:
    assert len(county.townships) == 21
    assert [t.code for t in county.townships] == [f"T{i:02d}" for i in range(1, 22)]
    assert len({t.name_zh for t in county.townships}) == len({t.name_en for t in county.townships}) == 21
    assert county.township("T02").name_zh == "东城街道" and county.township("T02").name_en == "Dongcheng Subdistrict"
    assert all(t.adults > 4000 and min(t.population.values()) > 0 for t in county.townships)


def test_urban_subdistricts_are_younger_than_rural_townships(county: World) -> None:
    def young(kind: str) -> float:
        towns = [t for t in county.townships if t.kind == kind]
        return sum(t.population[("18-29", s)] for t in towns for s in "MF") / sum(t.adults for t in towns)

    assert young("subdistrict") > young("town") > young("township")


def test_a_county_size_outside_the_names_is_refused() -> None:
    with pytest.raises(ValueError, match=f"1 to {len(NAMES)} townships, not 22"):
        World(townships=22)


def test_the_same_seed_gives_the_same_world_and_another_seed_another() -> None:
    a, b, c = World(seed=9, townships=4), World(seed=9, townships=4), World(seed=10, townships=4)
    assert [t.population for t in a.townships] == [t.population for t in b.townships]
    assert a.sample(20) == b.sample(20) != c.sample(20)
    assert a.share("q_safety", [1, 2, 3]) == b.share("q_safety", [1, 2, 3]) != c.share("q_safety", [1, 2, 3])


def test_a_sample_has_valid_unique_numbers_three_mobiles_to_one_landline(county: World) -> None:
    rows = county.sample(100)
    assert len(rows) == 2100 and len({r.number for r in rows}) == 2100
    assert Counter(r.township for r in rows) == {t.code: 100 for t in county.townships}
    for row in rows[:300]:
        assert normalise(row.number) == (row.number, row.frame)
    landline = sum(r.frame == "landline" for r in rows) / len(rows)
    assert 0.21 < landline < 0.29


def test_different_draws_share_no_number(county: World) -> None:
    first = {r.number for r in county.sample(50, draw="wave 1")}
    assert first.isdisjoint(r.number for r in county.sample(50, draw="wave 2"))
    assert first == {r.number for r in county.sample(50, draw="wave 1")}


def test_a_sample_of_chosen_sizes(county: World) -> None:
    assert Counter(r.township for r in county.sample({"T03": 4, "T07": 2})) == {"T03": 4, "T07": 2}
    with pytest.raises(KeyError, match="no township 'T99'"):
        county.sample({"T99": 1})


def test_a_number_is_always_the_same_resident(county: World) -> None:
    row = county.sample(1)[5]
    person = county.person(row.number, row.township)
    assert World(seed=5).person(row.number, row.township) == person
    assert person.answers.keys() == {item.question for item in ITEMS}


def test_a_non_working_number_is_non_working_in_every_township(county: World) -> None:
    lines = [{county.person(r.number, t).line for t in ("T01", "T05", "T20")} for r in county.sample(30)]
    assert all(len(kinds) == 1 for kinds in lines)
    share = sum(kinds == {"non_working"} for kinds in lines) / len(lines)
    assert 0.08 < share < 0.17  # FrameMix.non_working = 0.12


def test_residents_follow_the_township_population(county: World) -> None:
    town = county.township("T17")
    people = [county.person(r.number, town.code) for r in county.sample({"T17": 3000})]
    old = sum(p.age_group == "60+" for p in people) / len(people)
    expected = sum(town.population[("60+", s)] for s in "MF") / town.adults
    assert abs(old - expected) < 0.03
    minors = sum(p.minor for p in people) / len(people)
    assert 0.01 < minors < 0.035 and all(not p.eligible for p in people if p.minor or p.newcomer)


def test_residents_who_feel_unsafe_have_worries_and_others_none(county: World) -> None:
    people = [county.person(r.number, r.township) for r in county.sample(40)]
    assert all(bool(p.worries) == (p.answers["q_safety"] in (4, 5)) for p in people)
    assert all(0 <= p.years <= 85 for p in people)


# -- the truth ---------------------------------------------------------------------------------

def test_distributions_are_shares_that_sum_to_one(county: World) -> None:
    for item in ITEMS:
        dist = county.distribution(item.question, "T04")
        assert set(dist) == set(item.codes)
        assert all(p > 0 for p in dist.values()) and sum(dist.values()) == pytest.approx(1.0)


def test_the_county_is_the_population_weighted_townships(county: World) -> None:
    total = sum(t.adults for t in county.townships)
    weighted = sum(county.distribution("q_court", t.code)[8] * t.adults for t in county.townships) / total
    assert county.distribution("q_court")[8] == pytest.approx(weighted)


def test_true_rates_agree_with_the_residents_drawn_from_the_model(county: World) -> None:
    item = next(i for i in ITEMS if i.question == "q_police")
    rng = seeded("check")
    town = county.township("T02")
    cells, weights = zip(*town.cells(), strict=True)
    draws = []
    for _ in range(40_000):
        (cell,) = rng.choices(cells, weights=weights)
        draws.append(draw_answer(item, county.climate, town.code, cell, draw_latent(rng), rng))
    valid = [c for c in draws if c != 8]
    observed = sum(c <= 3 for c in valid) / len(valid)
    assert observed == pytest.approx(county.share("q_police", [1, 2, 3], township="T02"), abs=0.006)
    assert sum(c == 8 for c in draws) / len(draws) == pytest.approx(county.distribution("q_police", "T02")[8],
                                                                     abs=0.005)


def test_young_men_are_less_satisfied_and_feel_safer_than_older_women(county: World) -> None:
    def favourable(question: str, cell: tuple[str, str]) -> float:
        dist = cell_distribution(ITEMS_BY_QUESTION[question], county.climate, "T01", cell)
        return sum(dist[c] for c in (1, 2, 3)) / (1 - dist[8])

    assert favourable("q_overall", ("18-29", "M")) < favourable("q_overall", ("60+", "F")) - 0.04
    assert favourable("q_safety", ("18-29", "M")) > favourable("q_safety", ("60+", "F"))


def test_township_rates_differ_and_look_like_published_ones(county: World) -> None:
    safety = [county.share("q_safety", [1, 2, 3], township=t.code) for t in county.townships]
    assert min(safety) > 0.80 and max(safety) < 0.99
    assert max(safety) - min(safety) > 0.03


def test_true_indices_for_every_township_and_the_county(county: World) -> None:
    truth = county.true_indices(INDICES)
    assert set(truth) == {t.code for t in county.townships} | {COUNTY}
    assert truth[COUNTY]["safety"] == pytest.approx(county.share("q_safety", [1, 2, 3]))
    assert 0 < truth["T09"]["safety_score"] < 100
    assert truth["T09"]["law"] == pytest.approx((3 * truth["T09"]["police"] + truth["T09"]["court"]) / 4)


def test_true_indices_of_the_bundled_spec() -> None:
    spec = YAML(typ="safe").load(bundled_path().with_name("indices.yaml").read_text(encoding="utf-8"))
    truth = World(seed=1, townships=2).true_indices(spec["indices"])
    assert set(truth["ALL"]) == set(spec["indices"])


def test_an_unknown_index_kind_or_question_is_named(county: World) -> None:
    with pytest.raises(ValueError, match="index odd: kind must be"):
        county.true_indices({"odd": {"kind": "median", "question": "q_safety"}})
    with pytest.raises(KeyError, match="no true distribution for 'd_age'"):
        county.distribution("d_age")


def test_the_previous_period_is_the_same_county_with_other_opinions(county: World) -> None:
    before = county.previous()
    assert before.townships == county.townships and before.period == "previous"
    changes = [county.share("q_safety", [1, 2, 3], township=t.code) -
               before.share("q_safety", [1, 2, 3], township=t.code) for t in county.townships]
    assert max(abs(c) for c in changes) > 0.01
    row = county.sample(1)[0]
    now, then = county.person(row.number, row.township), before.person(row.number, row.township)
    assert (now.age_group, now.sex, now.line) == (then.age_group, then.sex, then.line)
    with pytest.raises(ValueError, match="only the current period"):
        before.previous()


def test_trend_answers_follow_the_real_change(county: World) -> None:
    improved = max(county.townships, key=lambda t: county.climate.change[t.code]).code
    worsened = min(county.townships, key=lambda t: county.climate.change[t.code]).code
    assert county.distribution("q_trend", improved)[1] > county.distribution("q_trend", worsened)[1]


# -- files -------------------------------------------------------------------------------------

def test_the_strata_file_reads_back_as_the_survey_strata(county: World, tmp_path: Path) -> None:
    specs = read_strata_csv(county.write_strata_csv(tmp_path / "strata.csv", quota=120))
    assert [s.code for s in specs] == [t.code for t in county.townships]
    first = specs[0]
    assert (first.name_zh, first.name_en, first.quota) == ("城关镇", "Chengguan Town", 120)
    assert {(c["age_group"], c["sex"]): c["N"] for c in first.population} == dict(county.townships[0].population)
    assert [c["age_group"] for c in first.population][::2] == list(AGE_GROUPS)


def test_the_frame_file_reads_as_a_sample_frame(county: World, tmp_path: Path) -> None:
    rows = county.sample(3)
    frame = read_frame(county.write_frame_csv(rows, tmp_path / "frame.csv"))
    assert set(frame.columns) == {"number", "township", "frame"}
    assert [(r.values["number"], r.values["township"]) for r in frame.rows] == [(r.number, r.township) for r in rows]


def test_strata_specs_carry_population_and_kind(county: World) -> None:
    spec = county.strata(quota=80)[1]
    assert spec.quota == 80 and spec.auxiliary == {"kind": "subdistrict", "urban": True}
    assert sum(c["N"] for c in spec.population) == county.townships[1].adults


@pytest.mark.parametrize(("field", "value"), [("non_working", 1.5), ("minor", -0.1)])
def test_a_frame_mix_needs_probabilities(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"FrameMix.{field} must be a probability"):
        FrameMix(**{field: value})
