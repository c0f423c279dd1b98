"""``minyi analyze`` through a tiny typer app: the design.md contract and exit 2 on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from analysis_helpers import margins_of, survey_frames
from typer.testing import CliRunner

from analysis.output import CSV_COLUMNS
from minyi.commands.analyze import analyze

SPEC = """indices:
  safety: {question: q_safety, kind: share, favourable: [1, 2, 3], exclude: [8, 9]}
  safety_score: {question: q_safety, kind: score, scores: {1: 100, 2: 80, 3: 60, 4: 40, 5: 0}, exclude: [8, 9]}
"""


def app() -> typer.Typer:
    cli = typer.Typer()
    cli.command("analyze")(analyze)
    cli.callback()(lambda: None)
    return cli


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    responses, cells = survey_frames(waves=("2025", "2026"))
    responses.to_csv(tmp_path / "responses.csv", index=False)
    cells.to_csv(tmp_path / "cells.csv", index=False)
    margins_of(cells).to_csv(tmp_path / "margins.csv", index=False)
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return tmp_path


def invoke(files: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app(), ["analyze", str(files / "responses.csv"), "--spec", str(files / "spec.yaml"),
                                        *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(("method", "population"), [("poststratify", "cells.csv"), ("rake", "margins.csv")])
def test_csv_follows_the_contract(files: Path, method: str, population: str) -> None:
    code, output = invoke(files, "--population", str(files / population), "--method", method, "--by",
                          "age_group,sex", "--id-column", "id", "--csv", str(files / "out.csv"))
    assert code == 0, output
    with (files / "out.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0][: len(CSV_COLUMNS)]) == CSV_COLUMNS
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(records) == 2 * 4 * 2  # periods x (3 townships + county) x indices
    assert {r["stratum"] for r in records} == {"A", "B", "C", "ALL"}
    for r in records:
        est, se, lo, hi = (float(r[k]) for k in ("estimate", "se", "ci_low", "ci_high"))
        assert lo <= est <= hi and se > 0
        if r["index"] == "safety":
            assert lo >= 0 and hi <= 1
    assert "period 2026: estimate [95% CI] (n)" in output


def test_json_and_weights_outputs(files: Path) -> None:
    code, output = invoke(files, "--population", str(files / "cells.csv"), "--json", str(files / "out.json"),
                          "--weights", str(files / "w.csv"), "--ci", "kg", "--ranks", "marginal")
    assert code == 0, output
    data = json.loads((files / "out.json").read_text(encoding="utf-8"))
    assert {"estimates", "changes", "ranks", "small_area", "diagnostics", "log", "flags"} <= set(data)
    assert {e["ci_method"] for e in data["estimates"] if e["kind"] == "share"} == {"kg"}
    assert {e["ci_method"] for e in data["estimates"] if e["kind"] == "score"} == {"logit"}
    with (files / "w.csv").open(encoding="utf-8") as handle:
        weights = list(csv.DictReader(handle))
    assert set(weights[0]) == {"id", "weight"} and len(weights) == 2 * (200 + 150 + 120)


def test_score_ci_t_asks_for_the_symmetric_t_interval_on_scores(files: Path) -> None:
    code, output = invoke(files, "--population", str(files / "cells.csv"), "--json", str(files / "out.json"),
                          "--score-ci", "t")
    assert code == 0, output
    estimates = json.loads((files / "out.json").read_text(encoding="utf-8"))["estimates"]
    scores = [e for e in estimates if e["kind"] == "score"]
    assert {e["ci_method"] for e in scores} == {"t"}
    assert all(e["estimate"] - e["ci_low"] == pytest.approx(e["ci_high"] - e["estimate"]) for e in scores)
    assert {e["ci_method"] for e in estimates if e["kind"] == "share"} == {"logit"}


@pytest.mark.parametrize(("change", "args", "message"), [
    (("responses.csv", "q_safety", "q_other"), (), "responses.csv: no column(s) 'q_safety'"),
    (("responses.csv", ",2025,A,", ",2025, ,"), (), "responses.csv, line 2, column 'township': is blank"),
    (("cells.csv", "2040.0", "lots"), (), "cells.csv, line 3, column 'N': 'lots' is not a population count"),
    (("spec.yaml", "kind: share", "kind: shares"), (), "indices.safety.kind must be share, score or composite"),
    (None, ("--method", "median"), "--method must be one of poststratify, rake, county"),
    (None, ("--ci", "wald"), "--ci must be one of logit, wilson, kg"),
    (None, ("--score-ci", "wilson"), "--score-ci must be one of logit, t, not 'wilson'"),
    (None, ("--ranks", "simulated"), "--ranks must be one of joint, marginal"),
    (None, ("--variance", "bootstrap"), "--variance must be jackknife, exact or rake-sweeps, not 'bootstrap'"),
    (None, ("--method", "poststratify", "--population", "margins.csv"), "needs joint cell counts"),
    (None, ("--trim-upper", "0.5"), "the upper trimming cap on w/d must be >= 1"),
])
def test_bad_input_exits_2_with_a_located_message(files: Path, change: tuple[str, str, str] | None,
                                                 args: tuple[str, ...], message: str) -> None:
    if change is not None:
        path = files / change[0]
        path.write_text(path.read_text(encoding="utf-8").replace(change[1], change[2], 1), encoding="utf-8")
    population = ("--population", str(files / "cells.csv")) if "--population" not in args else ()
    args = tuple(str(files / a) if a.endswith(".csv") else a for a in args)
    code, output = invoke(files, *population, *args)
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


def test_a_bad_file_is_named_as_given_in_one_error_line(files: Path) -> None:
    """As every other command (docs/command-line.md): ``error: PATH, line N, ...`` with the path as it was
    given, directory included: two population files of one name in two folders are told apart."""
    cells = files / "cells.csv"
    cells.write_text(cells.read_text(encoding="utf-8").replace("2040.0", "lots", 1), encoding="utf-8")
    code, output = invoke(files, "--population", str(cells))
    assert code == 2
    assert output.startswith(f"error: {cells}, line 3, column 'N': 'lots' is not a population count"), output


def test_a_township_missing_from_the_population_file_names_both_files(files: Path) -> None:
    """A weighting error is about the responses against the population file: the line names both."""
    cells = files / "cells.csv"
    lines = cells.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0].startswith("township,")
    cells.write_text("".join(line for line in lines if not line.startswith("A,")), encoding="utf-8")
    code, output = invoke(files, "--population", str(cells))
    assert code == 2
    assert output.startswith(f"error: weighting {files / 'responses.csv'} to {cells}: "), output
    assert "has respondents but no population counts" in output


def test_gb18030_files_are_read_as_chinese_excel_writes_them(files: Path) -> None:
    """Chinese Excel saves CSV as GBK/GB18030; sample frames are read so, and so are these."""
    code, utf8 = invoke(files, "--population", str(files / "cells.csv"), "--csv", str(files / "utf8.csv"))
    assert code == 0, utf8
    for name in ("responses.csv", "cells.csv"):
        path = files / name
        text = path.read_text(encoding="utf-8").replace(",A,", ",甲镇,").replace("\nA,", "\n甲镇,")
        path.write_bytes(text.encode("gb18030"))
    code, output = invoke(files, "--population", str(files / "cells.csv"), "--csv", str(files / "gb.csv"))
    assert code == 0, output
    gb, utf8 = (pd.read_csv(files / name, dtype={"stratum": str}).replace({"stratum": {"甲镇": "A"}})
                .sort_values(["period", "stratum", "index"]).reset_index(drop=True) for name in ("gb.csv", "utf8.csv"))
    pd.testing.assert_frame_equal(gb, utf8, rtol=1e-10)  # the same estimates (townships sorted by their names)
    (files / "cells.csv").write_bytes(b"township,N\n\xff\xfe\xfd,1\n")
    code, output = invoke(files, "--population", str(files / "cells.csv"))
    assert code == 2 and "neither UTF-8 nor GB18030 text" in output


def test_a_few_weighting_notes_are_printed_not_only_counted(files: Path) -> None:
    """A sex margin 5,000 over the township's total is rescaled: the console says so, not only the JSON."""
    margins = files / "margins.csv"
    lines = margins.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("A,sex,"))
    town, margin, level, n = lines[row].split(",")
    lines[row] = ",".join([town, margin, level, str(float(n) + 5000)])
    margins.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = invoke(files, "--population", str(margins), "--method", "rake", "--by", "age_group,sex")
    assert code == 0, output
    assert "note: township A: margin sex summed to 25000, not 20000; rescaled to 20000" in " ".join(output.split())


def test_an_unwritable_output_exits_2(files: Path) -> None:
    code, output = invoke(files, "--population", str(files / "cells.csv"), "--csv", str(files / "no" / "out.csv"))
    assert code == 2 and "cannot write" in output
