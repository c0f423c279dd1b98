"""Spec loading and flat-file reading: every problem named by file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.errors import InputError, SpecError
from analysis.flatfile import read_population, read_responses
from analysis.responses import ResponseColumns
from analysis.spec import CompositeIndex, ScoreIndex, ShareIndex, load_spec, parse_spec, parse_spec_text

COLUMNS = ResponseColumns(questions=("q_safety",), by=("age_group", "sex"))
GOOD = "id,wave,township,age_group,sex,q_safety\n1,2025,T1,18-29,M,1\n2,2025,T1,30-44,F,8\n3,2025,T2,18-29,F,\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_design_md_spec_parses() -> None:
    spec = parse_spec_text("""
indices:
  safety:       {question: q_safety, kind: share, favourable: [1, 2, 3], exclude: [8, 9]}
  safety_score: {question: q_safety, kind: score, scores: {1: 100, 2: 80, 3: 60, 4: 40, 5: 0}, exclude: [8, 9]}
  police: {question: q_police, kind: share, favourable: [1, 2], exclude: [8], valid: [1, 2, 3, 4]}
  courts: {question: q_courts, kind: share, favourable: [1, 2]}
  justice: {kind: composite, components: {police: 2, courts: 2}}
integrity: {straightlining: [q_police, q_courts], jump_z: 3}
""")
    safety, score, police, _, justice = spec.indices
    assert isinstance(safety, ShareIndex) and safety.favourable == {1.0, 2.0, 3.0} and safety.exclude == {8.0, 9.0}
    assert isinstance(score, ScoreIndex) and score.scores[4.0] == 40
    assert isinstance(police, ShareIndex) and police.valid == {1.0, 2.0, 3.0, 4.0}
    assert isinstance(justice, CompositeIndex) and justice.components == (("police", 0.5), ("courts", 0.5))
    assert spec.questions() == ["q_safety", "q_police", "q_courts"]
    assert spec.integrity.jump_z == 3


@pytest.mark.parametrize(("body", "message"), [
    ({"indices": {}}, "'indices' is empty"),
    ({"indices": {"a": {"question": "q", "kind": "mean"}}}, "indices.a.kind must be share, score or composite"),
    ({"indices": {"a": {"question": "q", "kind": "share", "favourable": [1, 8], "exclude": [8]}}},
     r"indices.a: codes \[8\] are both favourable and excluded"),
    ({"indices": {"a": {"question": "q", "kind": "share", "favourable": []}}}, "favourable must be a non-empty list"),
    ({"indices": {"a": {"question": "q", "kind": "share", "favourable": ["x"]}}}, "'x' is not a number"),
    ({"indices": {"a": {"kind": "share", "favourable": [1]}}}, "indices.a.question must name an answer column"),
    ({"indices": {"a": {"question": "q", "kind": "score", "scores": {1: 100}, "exclude": [1]}}},
     "both scored and excluded"),
    ({"indices": {"a": {"question": "q", "kind": "share", "favourable": [1], "colour": 1}}}, "unknown key"),
    ({"indices": {"c": {"kind": "composite", "components": {"a": 1, "b": 1}}}}, "'a' is not a share or score index"),
    ({"indices": {"a": {"question": "q", "kind": "share", "favourable": [1]},
                  "b": {"question": "q", "kind": "score", "scores": {1: 1}},
                  "c": {"kind": "composite", "components": {"a": 1, "b": 1}}}}, "components mix shares and scores"),
    ({"indices": {"a": {"question": "q", "kind": "share", "favourable": [1]}}, "extra": 1}, "unknown key"),
])
def test_spec_errors_name_the_index_and_key(body: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(body, "SPEC.yaml")


def test_yaml_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "spec.yaml", "indices:\n  a: {question: q, kind: share, favourable: [1]}\n"
                                        "  a: {question: q, kind: share, favourable: [2]}\n")
    with pytest.raises(InputError, match=r"spec.yaml, line 3: not valid YAML"):
        load_spec(path)
    with pytest.raises(InputError, match="cannot read the spec"):
        load_spec(tmp_path / "missing.yaml")


def test_responses_are_read_with_blank_answers_as_missing(tmp_path: Path) -> None:
    responses = read_responses(write(tmp_path, "RESPONSES.csv", GOOD), COLUMNS)
    assert list(responses.ids) == ["1", "2", "3"]
    assert list(responses.stratum.values) == ["T1", "T1", "T2"]
    assert list(responses.period.values) == ["2025"] * 3
    assert responses.answers["q_safety"][:2].tolist() == [1.0, 8.0]
    assert responses.answers["q_safety"][2] != responses.answers["q_safety"][2]


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("q_safety", "q_other"), r"RESPONSES.csv: no column\(s\) 'q_safety'"),
    (GOOD.replace("T1,30-44,F,8", "T1,30-44,F,eight"), r"RESPONSES.csv, line 3, column 'q_safety': 'eight' is not"),
    (GOOD.replace("3,2025,T2", "3,2025, "), r"RESPONSES.csv, line 4, column 'township': is blank"),
    (GOOD.replace("2,2025", "1,2025"), r"RESPONSES.csv, line 3, column 'id': id '1' appears more than once"),
    (GOOD.replace("T2", "ALL"), r"line 4, column 'township': 'ALL' is reserved"),
    (GOOD + "4,2025,T2,18-29\n", r"RESPONSES.csv, line 5: has 4 fields, the header has 6"),
    ("", "RESPONSES.csv: the file is empty"),
    ("id,id,township\n", r"RESPONSES.csv, line 1, column 'id': column appears twice"),
])
def test_response_errors_name_file_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_responses(write(tmp_path, "RESPONSES.csv", text), COLUMNS)


def periods_file(tmp_path: Path, *periods: str) -> Path:
    rows = "".join(f"{i},{p},T1,18-29,M,1\n" for i, p in enumerate(periods))
    return write(tmp_path, "RESPONSES.csv", "id,wave,township,age_group,sex,q_safety\n" + rows)


@pytest.mark.parametrize("periods", [
    ("2026-10", "2026-9", "2026-12", "2025-12"),  # as text 2026-10 < 2026-12 < 2026-9
    ("2026Q3", "2025Q4", "2026-Q1"),
    ("10", "9", "1"),
])
def test_periods_are_put_in_time_order_not_text_order(tmp_path: Path, periods: tuple[str, ...]) -> None:
    responses = read_responses(periods_file(tmp_path, *periods), COLUMNS)
    expected = {"2026-10": ["2025-12", "2026-9", "2026-10", "2026-12"], "2026Q3": ["2025Q4", "2026-Q1", "2026Q3"],
                "10": ["1", "9", "10"]}[periods[0]]
    assert responses.period.uniques.tolist() == expected
    assert list(responses.period.values) == list(periods)


@pytest.mark.parametrize(("periods", "message"), [
    (("2026-06", "2026-06", "2026Q4"), r"line 4, column 'wave': period '2026Q4' is a quarter \(as 2026Q2\), but "
                                       r"'2026-06' is a month"),
    (("2026-06", "2026/12"), r"line 3, column 'wave': period '2026/12' is not a month"),
    (("2026-06", "2026年12月"), r"line 3, column 'wave': period '2026年12月' is not a month"),
    (("1", "2026-12"), r"line 3, column 'wave': period '2026-12' is a month .* but '1' is a wave"),
    (("2026-06", "2026-6"), r"line 3, column 'wave': periods '2026-06' and '2026-6' are the same month"),
    (("2026-13",), r"line 2, column 'wave': '2026-13' is not a month"),
])
def test_periods_that_cannot_be_ordered_are_refused_at_their_row(tmp_path: Path, periods: tuple[str, ...],
                                                                  message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_responses(periods_file(tmp_path, *periods), COLUMNS)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.csv: cannot read"):
        read_responses(tmp_path / "nope.csv", COLUMNS)


CELLS = "township,age_group,sex,N\nT1,18-29,M,100\nT1,18-29,F,110\n"
MARGINS = "township,margin,level,N\nT1,total,all,210\nT1,age_group,18-29,210\nT1,sex,M,100\nT1,sex,F,110\n"


def test_both_population_shapes_are_recognised(tmp_path: Path) -> None:
    cells = read_population(write(tmp_path, "POP.csv", CELLS), "township", None)
    margins = read_population(write(tmp_path, "M.csv", MARGINS), "township", None)
    assert (cells.kind, cells.by, margins.kind, margins.by) == ("cells", ("age_group", "sex"), "margins",
                                                                ("age_group", "sex"))
    assert cells.margin_targets().margins["sex"]["T1"] == {"M": 100.0, "F": 110.0}
    assert margins.margin_targets().totals == {"T1": 210.0}
    with pytest.raises(InputError, match="POP.csv: post-stratification needs joint cell counts"):
        read_population(write(tmp_path, "POP.csv", MARGINS), "township", None).cell_counts()


@pytest.mark.parametrize(("text", "by", "message"), [
    (CELLS.replace("110", "-3"), None, r"POP.csv, line 3, column 'N': '-3' is not a population count"),
    (CELLS.replace("110", "many"), None, r"POP.csv, line 3, column 'N': 'many' is not"),
    (CELLS + "T1,18-29,M,5\n", None, r"POP.csv, line 4: duplicate row \(township=T1, age_group=18-29, sex=M\)"),
    (CELLS, ("age_group", "region"), r"POP.csv: no column\(s\) 'region'"),
    (MARGINS, ("age_group", "region"), r"POP.csv, column 'margin': no margin 'region' \(margins present: age_group, sex\)"),
    (MARGINS + "T1,total,all,5\n", None, r"POP.csv, line 6: duplicate total row"),
    ("town,N\nT1,5\n", None, r"POP.csv: needs a 'township' column and an 'N' column"),
])
def test_population_errors_name_file_line_and_column(tmp_path: Path, text: str, by: tuple[str, ...] | None,
                                                     message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_population(write(tmp_path, "POP.csv", text), "township", by)
