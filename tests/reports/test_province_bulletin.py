"""``minyi bulletin``: the provincial bulletin of a small generated province (12 counties, one
township without respondents, two waves) lists every county in rank order in Chinese and English, a bulletin
comes out for each county with its townships ranked and its place among the counties, and bad input
ends with one ``error:`` line and exit status 2."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pdfplumber
import pytest
from cli_support import run

from analysis.output import write_json
from analysis.pipeline import Options, run_analysis
from analysis.results import AnalysisResult
from analysis.spec import parse_spec

COUNTIES = ("东城县", "西河县", "南山县", "北岭县", "安平县", "永宁县", "长乐县", "青石县", "白水县", "红旗县",
            "金沙县", "玉泉县")
SPEC = """\
indices:
  safety: {question: q_safety, kind: share, favourable: [1, 2], exclude: [8]}
  police: {question: q_police, kind: score, scores: {1: 100, 2: 67, 3: 33, 4: 0}, exclude: [8]}
headline: [safety, police]
names:
  safety: {zh: 群众安全感, en: Feeling of safety}
  police: {zh: 公安满意度, en: Satisfaction with the police}
"""
UNSAMPLED = "T99"  # a township of county C02 with population and no respondents
TABLE_ROW = re.compile(r"^(\d+) (\d+)–(\d+) (\S+) [\d.]+%?(?:※)? ")


def province(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Respondents, margins and the areas file: 12 counties of 3 townships, 60 respondents each, the
    counties' shares of "safe" spread apart so that the top and bottom ones differ from the province."""
    rng = np.random.default_rng(seed)
    rows, margins, areas = [], [], []
    for c, name in enumerate(COUNTIES):
        for t in range(3):
            town = f"T{c:02d}{t}"
            areas.append((town, f"C{c:02d}", f"{name[:2]}{t + 1}镇", f"{name[:2]}{t + 1}", name, f"County {c:02d}"))
            margins += [(town, "total", "all", 10_000), (town, "sex", "F", 5_100), (town, "sex", "M", 4_900)]
            for wave, n in ((1, 40), (2, 60)):
                for _ in range(n):
                    safe = rng.random() < 0.35 + 0.05 * c + 0.1 * (wave == 2 and c < 4)
                    rows.append((wave, town, f"C{c:02d}", rng.choice(["F", "M"]), 1 if safe else 3,
                                 rng.choice([1, 2, 3, 4])))
    margins += [(UNSAMPLED, "total", "all", 8_000), (UNSAMPLED, "sex", "F", 4_000), (UNSAMPLED, "sex", "M", 4_000)]
    areas.append((UNSAMPLED, "C02", "空白镇", "Kongbai", COUNTIES[2], "County 02"))
    frame = pd.DataFrame(rows, columns=["wave", "township", "county", "sex", "q_safety", "q_police"])
    frame.insert(0, "id", [str(i) for i in range(1, len(frame) + 1)])
    return (frame, pd.DataFrame(margins, columns=["township", "margin", "level", "N"]),
            pd.DataFrame(areas, columns=["township", "county", "township_zh", "township_en", "county_zh",
                                         "county_en"]))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("province")
    frame, margins, areas = province()
    spec = directory / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    run_ = run_analysis(frame, margins, parse_spec({"indices": _indices()}),
                        Options(by=("sex",), method="rake", group="county", variance="linear"))
    write_json(run_.result, directory / "province.json")
    alone = run_analysis(frame, margins, parse_spec({"indices": _indices()}),
                         Options(by=("sex",), method="rake", variance="linear"))
    write_json(alone.result, directory / "no-counties.json")
    areas.to_csv(directory / "areas.csv", index=False)
    return {"dir": directory, "analysis": directory / "province.json", "spec": spec,
            "areas": directory / "areas.csv", "no_counties": directory / "no-counties.json"}


def _indices() -> dict[str, object]:
    from ruamel.yaml import YAML

    return dict(YAML(typ="safe").load(SPEC)["indices"])


def _text(path: Path) -> list[str]:
    with pdfplumber.open(io.BytesIO(path.read_bytes())) as doc:
        return [line for page in doc.pages for line in (page.extract_text() or "").splitlines()]


def _tables(lines: list[str]) -> list[list[tuple[int, int, int, str]]]:
    """The ranking tables' rows (rank, rank set low, high, name), one list per table, in page order."""
    tables: list[list[tuple[int, int, int, str]]] = []
    for line in lines:
        match = TABLE_ROW.match(line)
        if match:
            rank, low, high, name = int(match[1]), int(match[2]), int(match[3]), match[4]
            if rank == 1 or not tables:
                tables.append([])
            tables[-1].append((rank, low, high, name))
    return tables


def _expected_order(analysis: Path, index: str) -> list[str]:
    """County codes by estimate, highest first, from the analysis file itself."""
    from reports.analysis_file import read_analysis

    result: AnalysisResult = read_analysis(analysis)
    rows = [e for e in result.estimates if e.level == "group" and e.index == index and e.period == "2"]
    return [e.stratum.split(":")[1] for e in sorted(rows, key=lambda e: -(e.estimate or 0))]


@pytest.fixture(scope="module")
def written(files: dict[str, Path]) -> Path:
    out = files["dir"] / "out"
    result = run("bulletin", str(files["analysis"]), "--out", str(out), "--areas", str(files["areas"]),
                 "--spec", str(files["spec"]), "--lang", "zh,en")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_provincial_table_has_every_county_in_rank_order(files: dict[str, Path], written: Path,
                                                              lang: str) -> None:
    lines = _text(written / f"province-{lang}.pdf")
    names = dict(zip(*pd.read_csv(files["areas"])[["county", "county_zh" if lang == "zh" else "county_en"]]
                     .drop_duplicates().to_numpy().T, strict=True))
    tables = _tables([line.replace("County ", "County_") for line in lines])
    assert len(tables) == 2  # one per headline index
    for table, index in zip(tables, ("safety", "police"), strict=True):
        expected = [names[c].replace("County ", "County_") for c in _expected_order(files["analysis"], index)]
        assert [name.rstrip("†") for *_, name in table] == expected
        assert [rank for rank, *_ in table] == list(range(1, 13))
        assert all(low <= rank <= high for rank, low, high, _ in table)
        marked = [name for *_, name in table if name.endswith("†")]  # C02's township T99 has no respondents
        assert marked == [names["C02"].replace("County ", "County_") + "†"]
    heading = "各县（市、区）群众安全感排名" if lang == "zh" else "Feeling of safety: the counties ranked"
    assert any(heading in line for line in lines)


def test_the_provincial_bulletin_states_the_province_and_its_methods(written: Path) -> None:
    text = "".join(_text(written / "province-zh.pdf"))
    assert "要点" in text and "调查说明" in text
    assert re.search(r"群众安全感：全省为[\d.]+%（95%置信区间 [\d.]+–[\d.]+），较上期[+-][\d.]+个百分点（(不)?显著）", text)
    assert re.search(r"名次 名次区间 县（市、区） 指数（%） 95%置信区间 n 较上期 与全省比较", text)  # the change column
    assert "1 个乡镇没有受访者" in text and "空白镇" in text  # the township the province's estimate leaves out
    assert "名次区间为联合95%置信集" in text


def test_one_township_without_respondents_is_written_in_the_singular(written: Path) -> None:
    province = " ".join(_text(written / "province-en.pdf"))
    county = " ".join(_text(written / "county-C02-en.pdf"))
    assert "1 township has no respondents" in province and "leave it out: Kongbai" in province
    assert "Kongbai has no respondents" in county and "leave it out" in county


def test_a_bulletin_for_each_county_ranks_its_townships(files: dict[str, Path], written: Path) -> None:
    made = sorted(p.name for p in written.glob("county-*-zh.pdf"))
    assert made == [f"county-C{c:02d}-zh.pdf" for c in range(12)]
    order = _expected_order(files["analysis"], "safety")
    lines = _text(written / "county-C02-zh.pdf")
    text = "".join(lines)  # Chinese wraps anywhere: a phrase may run over two lines
    assert "南山县民意调查通报（第2轮）" in text
    assert f"在全省 12 个县（市、区）中居第 {order.index('C02') + 1} 位" in text
    tables = _tables(lines)
    assert len(tables) == 2
    assert sorted(name for *_, name in tables[0]) == ["南山1镇", "南山2镇", "南山3镇"]
    assert "空白镇" in text and "无受访者" in text  # the unsampled township, listed, not ranked


def test_a_county_headline_table_breaks_no_name_or_unit(files: dict[str, Path], tmp_path: Path) -> None:
    """The county's English name heads a column and the index names run long: neither may break inside
    a word (it printed "Songyu" over "an", and "政法机关执法满意度（" over "分）")."""
    areas = pd.read_csv(files["areas"], dtype=str)
    areas.loc[areas.county == "C02", "county_en"] = "Songyuan"
    areas.to_csv(tmp_path / "areas.csv", index=False)
    (tmp_path / "spec.yaml").write_text(SPEC.replace("公安满意度", "政法机关执法满意度"), encoding="utf-8")
    result = run("bulletin", str(files["analysis"]), "--out", str(tmp_path / "out"), "--areas",
                 str(tmp_path / "areas.csv"), "--spec", str(tmp_path / "spec.yaml"), "--counties", "C02",
                 "--lang", "zh,en")
    assert result.exit_code == 0, result.output
    assert any(re.match(r"Index Songyuan 95% CI", line) for line in _text(tmp_path / "out" / "county-C02-en.pdf"))
    assert any(line.startswith("政法机关执法满意度（分）") for line in _text(tmp_path / "out" / "county-C02-zh.pdf"))


def test_the_centre_set_by_minyi_centre_name_publishes_the_bulletin(files: dict[str, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """README: MINYI_CENTRE_NAME is the centre named on bulletins; --centre still wins."""
    monkeypatch.setenv("MINYI_CENTRE_NAME", "青岚省社情民意调查中心")
    monkeypatch.setenv("MINYI_CENTRE_NAME_EN", "Qinglan Provincial Survey Centre")
    out = tmp_path / "out"
    assert run("bulletin", str(files["analysis"]), "--out", str(out), "--counties", "none", "--lang", "zh,en"
               ).exit_code == 0
    assert _text(out / "province-zh.pdf")[0] == "青岚省社情民意调查中心"
    assert _text(out / "province-en.pdf")[0] == "Qinglan Provincial Survey Centre"
    assert run("bulletin", str(files["analysis"]), "--out", str(out), "--counties", "none", "--centre", "某省中心"
               ).exit_code == 0
    assert _text(out / "province-zh.pdf")[0] == "某省中心"


def test_chosen_counties_only(files: dict[str, Path], tmp_path: Path) -> None:
    result = run("bulletin", str(files["analysis"]), "--out", str(tmp_path), "--areas", str(files["areas"]),
                 "--counties", "C03,C07")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["county-C03-zh.pdf", "county-C07-zh.pdf",
                                                          "province-zh.pdf"]


def test_bulletins_drawn_by_two_processes_read_as_drawn_by_one(files: dict[str, Path], tmp_path: Path) -> None:
    for jobs in ("1", "2"):
        result = run("bulletin", str(files["analysis"]), "--out", str(tmp_path / jobs), "--areas", str(files["areas"]),
                     "--counties", "C01,C04,C09", "--lang", "zh,en", "--jobs", jobs)
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert len(names) == 8 and names == sorted(p.name for p in (tmp_path / "2").iterdir())
    assert all(_text(tmp_path / "1" / name) == _text(tmp_path / "2" / name) for name in names)


@pytest.mark.parametrize(("args", "message"), [
    (["--counties", "C99"], "error: no county C99 in the analysis"),
    (["--lang", "fr"], "error: --lang must be zh, en or zh,en, not 'fr'"),
    (["--areas", "{spec}"], "error: {spec}:1: the header needs the column(s) township, county"),
    (["--areas", "{missing}"], "error: {missing}: No such file or directory"),
])
def test_bad_input_is_one_line_and_exit_2(files: dict[str, Path], tmp_path: Path, args: list[str],
                                          message: str) -> None:
    paths = {"spec": str(files["spec"]), "missing": str(tmp_path / "none.csv")}
    args = [a.format(**paths) for a in args]
    if "--areas" not in args:
        args += ["--areas", str(files["areas"])]
    result = run("bulletin", str(files["analysis"]), "--out", str(tmp_path / "out"), *args)
    assert result.exit_code == 2
    assert result.output.strip().startswith(message.format(**paths)), result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: a.assign(county=a.county.where(a.township != "T001", "C05")).drop(columns=["county_zh", "county_en"]),
     "{areas}:3: township T001 is in county C05 here but in C00 in the analysis"),
    (lambda a: pd.concat([a, pd.DataFrame([("T990", "C90", "新镇", "Xin", "新县", "Xin County")], columns=a.columns)]),
     "{areas}:39: county C90 is not in the analysis (it has C00, C01, C02, C03, C04, ...)"),
    (lambda a: a[a.township != "T051"],
     "{areas}: township T051 of the analysis is not in the areas file"),
])
@pytest.mark.parametrize("counties", ["all", "none"])
def test_an_areas_file_that_disagrees_with_the_analysis_is_refused(
        files: dict[str, Path], tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame], message: str,
        counties: str) -> None:
    """A township put in another county than the analysis did, a county the analysis has not, a township
    left out: each would make a bulletin whose townships do not add up to its county's estimate."""
    areas = tmp_path / "areas.csv"
    change(pd.read_csv(files["areas"], dtype=str)).to_csv(areas, index=False)
    result = run("bulletin", str(files["analysis"]), "--out", str(tmp_path / "out"), "--areas", str(areas),
                 "--counties", counties)
    assert result.exit_code == 2
    assert result.output.strip().startswith(f"error: {message.format(areas=areas)}"), result.output
    assert not (tmp_path / "out").exists()


def test_an_analysis_without_counties_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    result = run("bulletin", str(files["no_counties"]), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {files['no_counties']}: it has no county estimates: run `minyi "
                                     "analyze ... --group county --json FILE` (the column naming each township's "
                                     "county)")


def test_county_bulletins_need_the_areas_file(files: dict[str, Path], tmp_path: Path) -> None:
    result = run("bulletin", str(files["analysis"]), "--out", str(tmp_path), "--counties", "all")
    assert result.exit_code == 2
    assert result.output.strip() == "error: county bulletins need --areas AREAS.csv (each township's county)"


def test_157_counties_chart_as_three_even_drawings_that_fit_under_a_heading() -> None:
    """The 157 rows of a province split 53 + 52 + 52, each drawing short enough to share its page with
    the section's heading and the chart's title (reports.province_bulletin keeps them together)."""
    from dataclasses import replace

    from report_helpers import share

    from reports.bulletin import BODY_HEIGHT
    from reports.charts import AXIS, ROW
    from reports.fonts import register_font
    from reports.province_charts import ranking_charts
    from reports.province_data import indices, province_report

    counties = [replace(share(f"county:C{c:03d}", 0.35 + c / 400, 300), level="group") for c in range(157)]
    result = AnalysisResult(estimates=[*counties, replace(share("ALL", 0.55, 47_100), level="all")])
    report = province_report(result, None, indices(result, None))
    drawings = ranking_charts(report, report.indices[0], "zh", register_font())
    assert [round((d.height - AXIS - 16) / ROW) for d in drawings] == [53, 52, 52]
    assert max(d.height for d in drawings) < BODY_HEIGHT - 90  # room for an h1, an h2 and a two-line caption
