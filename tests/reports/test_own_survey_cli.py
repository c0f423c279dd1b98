"""A survey centre's own round from the command line, with the files of docs/examples/: db upgrade,
survey create with its indices and population margins, sample import, interviews, report, export,
and ``minyi analyze`` on the export with the same population and index files. Bad input exits 2
naming the file, the row and the reason, and stores nothing."""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from cli_support import run, upgraded_database
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import Result

from survey.db import make_engine, session_factory, session_scope
from survey.models import Answer, Case, Interview, Survey
from survey.vocabulary import CaseStatus, InterviewStatus

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
ANSWERS = {"consent": (1,), "q_safe": (1, 2, 2, 3, 4, 8), "q_service": (1, 2, 3, 3, 4, 8),
           "d_agegrp": (1, 2, 2, 3), "d_sex": (1, 2)}


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty database named by the environment, as a survey centre would start."""
    return upgraded_database(tmp_path, monkeypatch)


def create(code: str, **files: Path) -> Result:
    chosen = {"questionnaire": EXAMPLES / "questionnaire.yaml", "strata": EXAMPLES / "townships.csv",
              "population": EXAMPLES / "population.csv", "indices": EXAMPLES / "indices.yaml", **files}
    return run("survey", "create", code, *[a for k, v in chosen.items() for a in (f"--{k}", str(v))])


def interview_everyone(url: str, seed: int = 7) -> int:
    """A completed interview with every answer for each case (the simulated channel knows only the
    bundled questionnaire)."""
    rng = random.Random(seed)
    with session_scope(session_factory(make_engine(url))) as session:
        survey = session.scalars(select(Survey)).one()
        cases = session.scalars(select(Case).where(Case.survey_id == survey.id)).all()
        for number, case in enumerate(cases):
            answers = {q: rng.choice(codes) for q, codes in ANSWERS.items()}
            _complete(session, survey, case, answers if number else {**answers, "q_service": None})
        return len(cases)


def bulletin_texts(url: str, tmp_path: Path, **files: Path) -> dict[str, str]:
    """Round HW of 2026-11 made with ``files`` (else the examples'), the example frame imported,
    everyone interviewed, and its bulletin in zh and en: each one's text."""
    import pdfplumber

    assert create("HW", period="2026-11", **files).exit_code == 0
    assert run("sample", "import", str(EXAMPLES / "frame.csv"), "--survey", "HW").exit_code == 0
    interview_everyone(url)
    texts = {}
    for lang in ("zh", "en"):
        pdf = tmp_path / f"bulletin-{lang}.pdf"
        assert run("report", "--survey", "HW", "--lang", lang, "--out", str(pdf)).exit_code == 0
        with pdfplumber.open(pdf) as doc:
            texts[lang] = " ".join(page.extract_text() or "" for page in doc.pages)
    return texts


def _complete(session: Session, survey: Survey, case: Case, answers: dict[str, int | None]) -> None:
    now = survey.created_at
    interview = Interview(case_id=case.id, survey_id=survey.id, questionnaire_version="1",
                          status=InterviewStatus.COMPLETE, consent=True, started_at=now, updated_at=now,
                          completed_at=now)
    session.add(interview)
    session.flush()
    session.add_all(Answer(interview_id=interview.id, question_id=q, seq=i, code=code, answered_at=now)
                    for i, (q, code) in enumerate(answers.items()) if code is not None)
    case.status, case.final_disposition, case.attempts = CaseStatus.FINAL, "1.1", 1


def test_an_own_survey_goes_from_files_to_bulletin_export_and_analysis(url: str, tmp_path: Path) -> None:
    created = create("HW-2026-11", period="2026-11")
    assert created.exit_code == 0, created.output
    assert "created survey HW-2026-11 (3 townships, questionnaire civic v1)" in created.output
    assert "note:" not in created.output
    imported = run("sample", "import", str(EXAMPLES / "frame.csv"), "--survey", "HW-2026-11")
    assert imported.exit_code == 0, imported.output
    assert interview_everyone(url) == 30

    pdf = tmp_path / "bulletin.pdf"
    reported = run("report", "--survey", "HW-2026-11", "--out", str(pdf))
    assert reported.exit_code == 0, reported.output
    assert pdf.read_bytes().startswith(b"%PDF")

    data = tmp_path / "hw.csv"
    exported = run("export", "--survey", "HW-2026-11", "--out", str(data))
    assert exported.exit_code == 0, exported.output
    with data.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30 and {"d_agegrp", "d_sex", "weight"} <= set(rows[0])
    assert {r["q_service"] for r in rows} <= {"", "1", "2", "3", "4", "8"}  # codes, not 1.0, beside a blank
    town_weights = {t: sum(float(r["weight"]) for r in rows if r["township"] == t) for t in ("HW01", "HW02")}
    assert town_weights == pytest.approx({"HW01": 24000, "HW02": 9500})  # each township weighted to its total

    estimates = tmp_path / "estimates.csv"
    analysed = run("analyze", str(data), "--population", str(EXAMPLES / "population.csv"),
                   "--spec", str(EXAMPLES / "indices.yaml"), "--csv", str(estimates))
    assert analysed.exit_code == 0, analysed.output
    assert "safety" in estimates.read_text(encoding="utf-8")


def test_the_export_format_follows_the_out_files_extension_and_a_contradiction_is_refused(
        url: str, tmp_path: Path) -> None:
    """``--out answers.xlsx`` without ``--format`` is a workbook, not a CSV under an .xlsx name; a
    ``--format`` that contradicts the extension writes nothing."""
    assert create("HW", period="2026-11").exit_code == 0
    assert run("sample", "import", str(EXAMPLES / "frame.csv"), "--survey", "HW").exit_code == 0
    interview_everyone(url)
    workbook = tmp_path / "answers.xlsx"
    assert run("export", "--survey", "HW", "--out", str(workbook)).exit_code == 0
    assert workbook.read_bytes().startswith(b"PK")  # a zip: the xlsx container
    assert pd.read_excel(workbook).shape[0] == 30
    spss = tmp_path / "answers.sav"
    assert run("export", "--survey", "HW", "--out", str(spss)).exit_code == 0
    assert spss.read_bytes().startswith(b"$FL2")  # an SPSS system file
    assert pyreadstat.read_sav(str(spss))[0].shape[0] == 30
    unnamed = tmp_path / "answers.txt"
    assert run("export", "--survey", "HW", "--out", str(unnamed)).exit_code == 0
    assert unnamed.read_text(encoding="utf-8-sig").startswith("id,wave,township")  # no known extension: csv
    contradicted = tmp_path / "wrong.xlsx"
    refused = run("export", "--survey", "HW", "--format", "csv", "--out", str(contradicted))
    assert refused.exit_code == 2
    assert f"--format csv but --out {contradicted} names a .xlsx file" in refused.output
    assert not contradicted.exists()


def test_a_survey_without_indices_or_population_says_how_to_add_them(url: str, tmp_path: Path) -> None:
    created = run("survey", "create", "S", "--questionnaire", str(EXAMPLES / "questionnaire.yaml"),
                  "--strata", str(EXAMPLES / "townships.csv"))
    assert created.exit_code == 0, created.output
    assert "minyi survey set S --indices" in created.output
    run("sample", "import", str(EXAMPLES / "frame.csv"), "--survey", "S")
    interview_everyone(url)
    pdf = str(tmp_path / "b.pdf")
    refused = run("report", "--survey", "S", "--out", pdf)
    assert refused.exit_code == 2
    assert "survey S has no population counts to weight to: add them with `minyi survey set S --population" \
        in " ".join(refused.output.split())
    assert run("survey", "set", "S", "--population", str(EXAMPLES / "population.csv")).exit_code == 0
    refused = run("report", "--survey", "S", "--out", pdf)
    assert refused.exit_code == 2
    assert "survey S has no index definitions" in " ".join(refused.output.split())
    assert run("survey", "set", "S", "--indices", str(EXAMPLES / "indices.yaml")).exit_code == 0
    assert run("report", "--survey", "S", "--out", pdf).exit_code == 0


def _edited(source: Path, target: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new), encoding="utf-8")
    return target


BAD = {
    "wrong index question": ("indices", "indices.yaml", "question: q_service", "question: q_servce",
                             "indices.yaml:6: indices.service: 'q_servce' is not a question of questionnaire civic"),
    "index code not an answer": ("indices", "indices.yaml", "q_safe, kind: share, favourable: [1, 2]",
                                 "q_safe, kind: share, favourable: [1, 6]",
                                 "indices.yaml:4: indices.safety: code(s) 6 are not answers of q_safe"),
    "township without margins": ("population", "population.csv", "HW03,", "HW01,",
                                 "no population rows for township(s) HW03 of"),
    "margin on an unknown variable": ("population", "population.csv", "HW02,d_sex,1", "HW02,sex,1",
                                      "population.csv:12: weighting variable 'sex': 'sex' is not a question of "
                                      "questionnaire civic"),
    "level not a code": ("population", "population.csv", "HW01,d_agegrp,3", "HW01,d_agegrp,4",
                         "population.csv:5: '4' is not an answer code of d_agegrp (its codes: 1, 2, 3)"),
    "unknown township": ("population", "population.csv", "HW02,total", "HW09,total",
                         "population.csv:8: township 'HW09' is not one of"),
    "header wider than any population file": ("population", "population.csv", "township,margin,level,N",
                                              "township,margin,level,N," + ",".join(f"c{i}" for i in range(2000)),
                                              "population.csv: the header line is longer than 4096 characters"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_row_and_reason_and_stores_nothing(url: str, tmp_path: Path, case: str) -> None:
    option, name, old, new, message = BAD[case]
    bad = _edited(EXAMPLES / name, tmp_path / name, old, new)
    result = create("S", **{option: bad})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    with session_scope(session_factory(make_engine(url))) as session:
        assert session.scalar(select(func.count()).select_from(Survey)) == 0


def _townships_with_cells(path: Path) -> Path:
    """The example townships in the older form: one row per census cell, counts as columns."""
    rows = ["code,name_zh,name_en,quota,d_agegrp,d_sex,N"]
    for town in csv.DictReader((EXAMPLES / "townships.csv").open(encoding="utf-8")):
        rows += [f"{town['code']},{town['name_zh']},{town['name_en']},{town['quota']},{a},{s},1000"
                 for a in (1, 2, 3) for s in (1, 2)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_townships_with_population_columns_still_work_but_not_beside_population(url: str, tmp_path: Path) -> None:
    strata = _townships_with_cells(tmp_path / "townships.csv")
    both = create("S", strata=strata)
    assert both.exit_code == 2
    assert "has population columns and a population file is given" in " ".join(both.output.split())
    old = run("survey", "create", "S", "--questionnaire", str(EXAMPLES / "questionnaire.yaml"),
              "--strata", str(strata), "--indices", str(EXAMPLES / "indices.yaml"))
    assert old.exit_code == 0, old.output
    assert "note:" not in old.output
    with session_scope(session_factory(make_engine(url))) as session:
        survey = session.scalars(select(Survey)).one()
        assert set(survey.analysis_spec["weighting"]) == {"d_agegrp", "d_sex"}
        assert len(survey.strata[0].population) == 6


def test_survey_set_checks_the_files_and_keeps_the_old_ones_on_a_problem(url: str, tmp_path: Path) -> None:
    assert create("S").exit_code == 0
    bad = _edited(EXAMPLES / "indices.yaml", tmp_path / "indices.yaml", "question: q_safe,", "question: d_years,")
    result = run("survey", "set", "S", "--indices", str(bad))
    assert result.exit_code == 2
    assert "indices.yaml:4: indices.safety: 'd_years' is not a question of questionnaire civic" in result.output
    with session_scope(session_factory(make_engine(url))) as session:
        assert session.scalars(select(Survey)).one().analysis_spec["indices"]["safety"]["question"] == "q_safe"



def test_survey_set_is_audited_as_the_webs_upload_is(url: str, tmp_path: Path) -> None:
    """Replacing a round's inputs from the command line leaves the same audit row as the web's upload."""
    from survey.models import AuditLog

    assert create("S").exit_code == 0
    indices = _edited(EXAMPLES / "indices.yaml", tmp_path / "new-indices.yaml", "headline: [safety, service]",
                      "headline: [service, safety]")
    assert run("survey", "set", "S", "--indices", str(indices)).exit_code == 0
    with session_scope(session_factory(make_engine(url))) as session:
        row = session.scalars(select(AuditLog).where(AuditLog.action == "analysis_inputs_set")).one()
        assert row.user_id is None and row.entity == "survey"
        assert row.after == {"changed": ["index definitions"], "missing": [], "files": ["new-indices.yaml"]}

POLICE = """  - id: q_police
    type: single
    when: q_safe in [3, 4]
    label: {zh: 警务满意度, en: Policing}
    text:
      zh: 您对本地警务满意吗？满意请按1，不满意按2，说不清按8，不愿回答按9。
      en: Are you satisfied with local policing? Yes 1, no 2, can't say 8, rather not say 9.
    choices:
      - {key: 1, code: 1, label: {zh: 满意, en: Satisfied}}
      - {key: 2, code: 2, label: {zh: 不满意, en: Dissatisfied}}
      - {key: 8, code: 8, label: {zh: 说不清, en: "Can't say"}, missing: true}
      - {key: 9, code: 9, label: {zh: 拒答, en: Refused}, missing: true}
"""


def test_the_analysts_export_has_the_design_labels_and_declared_missing_values(url: str, tmp_path: Path) -> None:
    """One round with a skipped question (q_police only after q_safe 3 or 4) in .sav, .dta and
    .csv, read back: every value, the design's columns, formats, value labels and missing values."""
    questionnaire = _edited(EXAMPLES / "questionnaire.yaml", tmp_path / "q.yaml", "  - id: d_agegrp\n",
                            POLICE + "  - id: d_agegrp\n")
    assert create("HW", period="2026-11", questionnaire=questionnaire).exit_code == 0
    assert run("sample", "import", str(EXAMPLES / "frame.csv"), "--survey", "HW").exit_code == 0
    rng = random.Random(3)
    with session_scope(session_factory(make_engine(url))) as session:
        survey = session.scalars(select(Survey)).one()
        for case in session.scalars(select(Case).order_by(Case.id)):
            answers: dict[str, int | None] = {q: rng.choice(codes) for q, codes in ANSWERS.items()}
            answers["q_police"] = rng.choice((1, 2, 8, 9)) if answers["q_safe"] in (3, 4) else None
            _complete(session, survey, case, answers)
    with session_scope(session_factory(make_engine(url))) as session:
        given = {(a.interview_id, a.question_id): a.code for a in session.scalars(select(Answer))}
        rows = session.execute(select(Interview.id, Interview.case_id).order_by(Interview.id)).all()
    files = {fmt: tmp_path / f"hw.{fmt}" for fmt in ("sav", "dta", "csv")}
    for fmt, path in files.items():
        exported = run("export", "--survey", "HW", "--format", fmt, "--out", str(path))
        assert exported.exit_code == 0, exported.output
        assert path.with_name("hw.codebook.csv").exists()

    sav, meta = pyreadstat.read_sav(str(files["sav"]), user_missing=True)
    assert list(sav.columns[:8]) == ["id", "wave", "township", "township_name", "stratum", "psu", "mode", "language"]
    assert list(sav.columns[-2:]) == ["weight", "design_weight"]
    for (interview_id, case_id), (_i, row) in zip(rows, sav.iterrows(), strict=True):
        assert (row["id"], row["psu"], row["stratum"]) == (interview_id, case_id, row["township"])
        assert row["township_name"] == {"HW01": "城关镇", "HW02": "河口乡", "HW03": "东山街道"}[row["township"]]
        for question in (*ANSWERS, "q_police"):
            code = given.get((interview_id, question))
            assert row[question] == (-1 if code is None else code), (interview_id, question)
    assert set(sav["q_police"]) == {1, 2, 8, 9, -1} and 8 in set(sav["q_safe"])  # every kind of cell occurs
    n = sav.groupby("township")["id"].count()
    totals = {"HW01": 24000, "HW02": 9500, "HW03": 31000}
    assert sav["design_weight"].tolist() == pytest.approx([totals[t] / n[t] for t in sav["township"]])
    assert sav.groupby("township")["weight"].sum().to_dict() == pytest.approx(totals)
    assert meta.missing_ranges == {
        "q_safe": [{"lo": 8.0, "hi": 8.0}], "q_service": [{"lo": 8.0, "hi": 8.0}],
        "q_police": [{"lo": 8.0, "hi": 8.0}, {"lo": 9.0, "hi": 9.0}, {"lo": -1.0, "hi": -1.0}]}
    formats = meta.original_variable_types
    assert (formats["q_safe"], formats["q_police"], formats["d_sex"], formats["consent"]) == ("F1.0", "F2.0", "F1.0",
                                                                                              "F1.0")
    assert formats["id"] == "F2.0" and formats["psu"] == "F2.0"
    assert meta.variable_value_labels["q_police"] == {1.0: "满意", 2.0: "不满意", 8.0: "说不清", 9.0: "拒答",
                                                      -1.0: "未问（跳答）"}
    assert meta.column_names_to_labels["psu"] == "初级抽样单位（样本号码编号）"
    plain, _ = pyreadstat.read_sav(str(files["sav"]))  # declared missing read as missing
    assert plain["q_police"].isna().tolist() == (~sav["q_police"].isin([1, 2])).tolist()

    dta, dmeta = pyreadstat.read_dta(str(files["dta"]), user_missing=True)
    letters = {8: "a", 9: "b", -1: "c"}
    assert dta["q_police"].tolist() == [letters.get(int(c), int(c)) for c in sav["q_police"]]
    assert dta["q_safe"].tolist() == [{8: "a"}.get(int(c), int(c)) for c in sav["q_safe"]]
    assert dmeta.missing_user_values == {"q_safe": ["a"], "q_service": ["a"], "q_police": ["a", "b", "c"]}
    assert dmeta.variable_value_labels["q_police"] == {1: "满意", 2: "不满意", "a": "说不清", "b": "拒答",
                                                       "c": "未问（跳答）"}
    assert (dmeta.original_variable_types["q_safe"], dmeta.original_variable_types["id"]) == ("%1.0f", "%2.0f")
    pd.testing.assert_series_equal(dta["weight"], sav["weight"])

    with files["csv"].open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert [r["q_police"] for r in table] == ["" if c == -1 else str(int(c)) for c in sav["q_police"]]
    assert [r["psu"] for r in table] == [str(case_id) for _i, case_id in rows]
    book = pd.read_csv(files["csv"].with_name("hw.codebook.csv"), encoding="utf-8-sig", dtype=str,
                       keep_default_na=False)
    assert set(book["variable"]) == set(table[0])
    police = book[book["variable"] == "q_police"]
    assert police[["code", "value_label", "missing"]].values.tolist() == [
        ["1", "满意", ""], ["2", "不满意", ""], ["8", "说不清", "yes"], ["9", "拒答", "yes"]]
    assert book.set_index("variable").loc["design_weight", "label"] == "设计权数（N_h/n_h）"


def test_the_bulletin_names_the_township_without_interviews_and_prints_times_in_the_centres_zone(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HW03 has population but no interview: the county figures are marked † and HW03 is named with its
    share of the adults, in the bulletin (zh and en) and in `minyi analyze`. With the centre in New York
    the footer's time is New York time, named; the calling hours stay in the survey's own zone, named."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import pdfplumber

    monkeypatch.setenv("MINYI_CENTRE_TIMEZONE", "America/New_York")
    assert create("HW-2026-11", period="2026-11").exit_code == 0
    frame = pd.read_csv(EXAMPLES / "frame.csv", dtype=str)
    without_hw03 = tmp_path / "frame.csv"
    frame.loc[frame["township"] != "HW03"].to_csv(without_hw03, index=False)
    assert run("sample", "import", str(without_hw03), "--survey", "HW-2026-11").exit_code == 0
    interview_everyone(url)
    population = pd.read_csv(EXAMPLES / "population.csv")
    totals = population.loc[population["margin"] == "total"].set_index("township")["N"]
    share = totals["HW03"] / totals.sum()
    texts = {}
    for lang in ("zh", "en"):
        pdf = tmp_path / f"bulletin-{lang}.pdf"
        reported = run("report", "--survey", "HW-2026-11", "--lang", lang, "--out", str(pdf))
        assert reported.exit_code == 0, reported.output
        with pdfplumber.open(pdf) as doc:
            texts[lang] = "\n".join(page.extract_text() or "" for page in doc.pages)
    zh, en = texts["zh"], texts["en"].replace("\n", " ")
    assert f"东山街道（占全县成年常住人口 {100 * share:.1f}%）" in zh.replace("\n", "")
    assert f"Dongshan ({100 * share:.1f}% of the county's adults)" in en
    assert "全县估计不含没有受访者的乡镇：东山街道" in zh.replace("\n", "")  # under the headline table, and
    assert zh.replace("\n", "").count("全县估计不含没有受访者的乡镇") == 2  # in the methods box
    assert "†" not in zh  # 20 interviews: no county figure is published, so none is marked
    stamp = re.search(r"Data snapshot (\d{4}-\d\d-\d\d \d\d:\d\d) America/New_York, UTC−[45] ", en)
    assert stamp, "the footer's time is in the centre's zone, named"
    printed = datetime.strptime(stamp[1], "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("America/New_York"))
    assert abs(datetime.now(ZoneInfo("America/New_York")) - printed) < timedelta(minutes=10)
    assert "Calling hours (Beijing time):" in en  # the survey's own zone, as configured
    assert "常住人口" in zh and "不使用户籍人口" in zh.replace("\n", "")  # the weighting targets' source
    assert "18:30–21:00 Monday to Friday; 09:00–21:00 on Saturdays and Sundays" in en
    assert "jackknife" in zh and "jackknife" in en  # the methods box says how the analysis weighted, once
    assert "。。" not in zh and ".." not in en.replace("...", "")

    data = tmp_path / "hw.csv"
    assert run("export", "--survey", "HW-2026-11", "--out", str(data)).exit_code == 0
    analysed = run("analyze", str(data), "--population", str(EXAMPLES / "population.csv"),
                   "--spec", str(EXAMPLES / "indices.yaml"), "--csv", str(tmp_path / "estimates.csv"))
    assert analysed.exit_code == 0, analysed.output
    assert f"leaves out 1 township with no respondents: HW03 ({100 * share:.1f}% of the population)" \
        in " ".join(analysed.output.split())
    county = next(r for r in csv.DictReader((tmp_path / "estimates.csv").open(encoding="utf-8"))
                  if r["stratum"] == "ALL")
    assert county["left_out"] == "HW03" and float(county["population_covered"]) == pytest.approx(1 - share)


def test_the_bulletins_index_construction_names_the_answers_each_index_leaves_out(url: str, tmp_path: Path) -> None:
    """A score index in the headline: its construction names the excluded answer as the questionnaire
    labels it (说不清 / Can't say), not a fixed "don't know"; a share index without exclusions says none."""
    indices = _edited(EXAMPLES / "indices.yaml", tmp_path / "indices.yaml", "headline: [safety, service]",
                      "headline: [safety_score, service]")
    indices = _edited(indices, indices, "favourable: [1, 2], exclude: [8]}\n  safety_score",
                      "favourable: [1, 2]}\n  safety_score")
    texts = bulletin_texts(url, tmp_path, indices=indices)
    zh, en = "".join(texts["zh"].split()), " ".join(texts["en"].split())
    assert "比较安全67分，不太安全33分，不安全0分）；“说不清”不计分。" in zh and "不了解" not in zh
    assert "Unsafe 0); Can't say not scored." in en and "don't know" not in en
    assert "回答“安全、比较安全”的加权比例。" in zh  # safety: no answer excluded


def test_the_bulletins_merged_cells_are_named_by_the_questionnaires_labels(url: str, tmp_path: Path) -> None:
    """A round weighted by its own questions (population margins name question ids and answer codes):
    the methods box names a merged cell's variable and levels as the questionnaire labels them
    (年龄组 18-34岁+35-59岁, 性别 男+女), not by the codes (1+2, either variable)."""
    texts = bulletin_texts(url, tmp_path)  # 10 interviews a township: some age groups have fewer than 5
    zh = "".join(texts["zh"].split())
    start = zh.index("单元合并")
    merged_zh = zh[start:zh.index("设计效应", start)]
    assert "城关镇年龄组18-34岁+35-59岁" in merged_zh and "城关镇性别男+女合并" in merged_zh, merged_zh
    assert "女7人），该乡镇不按性别加权" in merged_zh  # the whole margin merged: the township not raked on sex
    assert not re.search(r"\d\+\d", merged_zh), merged_zh  # before: 城关镇1+2+3合并 … 城关镇1+2合并
    en = " ".join(texts["en"].split())
    start = en.index("Merged cells")
    merged_en = en[start:en.index("Design effect", start)]
    assert "Chengguan: Age group 18-34+35-59" in merged_en and "Chengguan: Sex Male+Female merged" in merged_en
    assert "Female: 7), so the township is not weighted by Sex" in merged_en
    assert "in age order" not in merged_en


def test_a_composite_index_in_the_headline_has_its_section_and_construction_in_the_bulletin(
        url: str, tmp_path: Path) -> None:
    """formats.md allows composites and says the headline indices get a township section each: a
    composite named there is in the bulletin (before, it was left out without a word), made of its
    components by name and weight, with no question wording of its own."""
    indices = _edited(EXAMPLES / "indices.yaml", tmp_path / "indices.yaml", "headline: [safety, service]",
                      "  overall: {kind: composite, components: {safety: 0.6, service: 0.4}}\n"
                      "headline: [safety, overall]")
    indices = _edited(indices, indices, "names:\n", "names:\n  overall: {zh: 综合满意度, en: Overall index}\n")
    texts = bulletin_texts(url, tmp_path, indices=indices)
    zh, en = "".join(texts["zh"].split()), " ".join(texts["en"].split())
    assert "各乡镇综合满意度" in zh and "Overall index by township" in en
    assert "综合满意度：群众安全感（权重60%）、服务满意率（权重40%）的加权和。" in zh
    assert "Overall index: Weighted sum of Feeling of safety (60%), Satisfaction with services (40%)." in en
    assert "综合满意度：“" not in zh  # no wording of its own


def test_the_bulletin_names_the_centre_and_sponsor_as_configured(url: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The centre's name in each language and who commissioned the survey come from the settings."""
    monkeypatch.setenv("MINYI_CENTRE_NAME", "青石县社情民意调查中心")
    monkeypatch.setenv("MINYI_CENTRE_NAME_EN", "Qingshi County Opinion Survey Centre")
    monkeypatch.setenv("MINYI_SPONSOR", "市委政法委")
    monkeypatch.setenv("MINYI_SPONSOR_EN", "City Political and Legal Affairs Commission")
    texts = bulletin_texts(url, tmp_path)
    zh, en = "".join(texts["zh"].split()), " ".join(texts["en"].split())
    assert zh.startswith("青石县社情民意调查中心") and "市委政法委委托，青石县社情民意调查中心实施。" in zh
    assert en.startswith("Qingshi County Opinion Survey Centre")
    # the methods box's label ("Sponsor and fieldwork") sits beside the text: its second line comes
    # between the text's lines in the extracted text
    assert "Commissioned by the City Political and Legal Affairs Commission; fieldwork by the Qingshi County" in en
    assert "County Public Opinion Survey Centre" not in en and "县委政法委" not in zh


def test_a_quota_past_a_million_is_refused_naming_the_line(url: str, tmp_path: Path) -> None:
    """A quota of 10**20 overflowed the database's integer column."""
    strata = tmp_path / "townships.csv"
    lines = (EXAMPLES / "townships.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert "quota" in header
    cells = lines[1].split(",")
    cells[header.index("quota")] = str(10**20)
    strata.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    refused = create("S", strata=strata)
    assert refused.exit_code == 2
    assert f"townships.csv:2: column quota: {10**20} is more than 1000000" in refused.output
    assert run("survey", "create", "T", "--questionnaire", str(EXAMPLES / "questionnaire.yaml"), "--strata",
               str(EXAMPLES / "townships.csv"), "--quota", str(10**7)).exit_code == 2


def test_export_and_report_make_their_folder_and_say_plainly_what_they_cannot_write(url: str, tmp_path: Path) -> None:
    assert create("HW", period="2026-11").exit_code == 0
    assert run("sample", "import", str(EXAMPLES / "frame.csv"), "--survey", "HW").exit_code == 0
    interview_everyone(url)
    nested = tmp_path / "2026" / "11" / "answers.csv"
    assert run("export", "--survey", "HW", "--out", str(nested)).exit_code == 0 and nested.exists()
    for command in (("export", "--survey", "HW"), ("report", "--survey", "HW")):
        refused = run(*command, "--out", str(tmp_path))
        assert refused.exit_code == 2
        assert f"error: cannot write {tmp_path}: Is a directory" in refused.output and "Errno" not in refused.output


def test_a_series_runs_in_time_order_of_its_periods(url: str) -> None:
    """2026-9 comes before 2026-10: as text it sorts after it, and the October round lost September (no
    change on the previous period) while September's took October for its past."""
    from reports.results import series

    for code, period in (("HW-10", "2026-10"), ("HW-9", "2026-9"), ("HW-11", "2026-11")):
        assert create(code, period=period).exit_code == 0
    with session_scope(session_factory(make_engine(url))) as session:
        rounds = {s.code: s for s in session.scalars(select(Survey))}
        assert [s.period for s in series(session, rounds["HW-10"])] == ["2026-9", "2026-10"]
        assert [s.period for s in series(session, rounds["HW-9"])] == ["2026-9"]


def test_a_series_whose_periods_cannot_be_ordered_is_not_analysed(url: str) -> None:
    from analysis.errors import AnalysisError
    from reports.results import analyse

    for code, period in (("HW-11", "2026-11"), ("HW-Q4", "2026Q4")):
        assert create(code, period=period).exit_code == 0
    with session_scope(session_factory(make_engine(url))) as session:
        survey = session.scalars(select(Survey).where(Survey.code == "HW-Q4")).one()
        with pytest.raises(AnalysisError, match=r"of survey HW-Q4's series cannot be put in time order: period "
                                                r"'2026Q4' is a quarter"):
            analyse(session, survey)
