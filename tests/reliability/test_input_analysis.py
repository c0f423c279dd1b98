"""``minyi analyze`` on damaged flat files (RESPONSES.csv, POP.csv, SPEC.yaml) and odd options:
exit 0, or exit 2 with a message, never a traceback."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from analysis_helpers import margins_of, survey_frames
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reliability_support import examples
from ruamel.yaml import YAML
from typer.testing import CliRunner

from minyi.cli import app as minyi

_RESPONSES, _CELLS = survey_frames(seed=3, towns={"A": (4_000, 40), "B": (1_500, 30)}, waves=("1", "2"))
RESPONSES, CELLS, MARGINS = _RESPONSES.astype(str), _CELLS.astype(str), margins_of(_CELLS).astype(str)

VALUES = st.one_of(st.sampled_from(["", "NA", "nan", "inf", "-1", "0", "1e309", "８", " 1 ", "2.5", "A", "C", "60+",
                                    "M", "X", "1", "9", "-0", "99999999999999999999"]),
                   st.integers(-5, 20).map(str), st.text(max_size=6))


def _mutated(frame: pd.DataFrame, draw: st.DrawFn) -> pd.DataFrame:
    """``frame`` with a few cells changed, a column dropped or renamed, rows cut or doubled."""
    frame = frame.copy()
    for change in draw(st.lists(st.sampled_from(["cell", "cell", "cell", "drop", "rename", "rows"]), max_size=4)):
        column = draw(st.sampled_from(list(frame.columns))) if len(frame.columns) else None
        if change == "cell" and column is not None and len(frame):
            frame.iat[draw(st.integers(0, len(frame) - 1)), list(frame.columns).index(column)] = draw(VALUES)
        elif change == "drop" and column is not None:
            frame = frame.drop(columns=[column])
        elif change == "rename" and column is not None:
            frame = frame.rename(columns={column: draw(st.sampled_from(["", "id", "N", "township", "x"]))})
        elif change == "rows":
            frame = draw(st.sampled_from([frame.iloc[: draw(st.integers(0, 5))], pd.concat([frame, frame])]))
    return frame


def _csv_bytes(frame: pd.DataFrame, draw: st.DrawFn) -> bytes:
    data = frame.astype(str).to_csv(index=False, quoting=csv.QUOTE_MINIMAL).encode("utf-8")
    damage = draw(st.integers(0, 12))
    if damage == 0:
        return draw(st.binary(max_size=80))
    if damage == 1:
        return data.decode().encode(draw(st.sampled_from(["gb18030", "utf-16"])))
    if damage == 2:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(max_size=8)) + data[at:]
    return data


SPEC_DICT = {"indices": {
    "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
    "safety_score": {"question": "q_safety", "kind": "score", "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0},
                     "exclude": [8, 9]},
    "police": {"question": "q_police", "kind": "share", "favourable": [1, 2], "exclude": [8]}}}
OPTIONS = st.lists(st.one_of(
    st.tuples(st.just("--method"), st.sampled_from(["poststratify", "rake", "both"])),
    st.tuples(st.just("--by"), st.sampled_from(["age_group,sex", "sex", "age_group,,x", " ", "N"])),
    st.tuples(st.just("--ci"), st.sampled_from(["logit", "wilson", "kg", "exact"])),
    st.tuples(st.sampled_from(["--trim-upper", "--trim-lower", "--trim-median", "--max-adjustment"]),
              st.sampled_from(["0", "-1", "1", "3.5", "nan", "inf", "1e300", "x"])),
    st.tuples(st.just("--min-cell"), st.sampled_from(["0", "-3", "1", "1000", "2.5"])),
    st.tuples(st.sampled_from(["--id-column", "--stratum", "--period-column"]),
              st.sampled_from(["id", "township", "wave", "sex", "nope", ""])),
    st.tuples(st.just("--variance"), st.sampled_from(["exact", "rake-sweeps", "none"])),
    st.tuples(st.just("--adjust"), st.sampled_from(["holm", "bh", "none"])),
    st.tuples(st.just("--no-collapse")),
), min_size=1, max_size=3)
CODES = st.lists(st.one_of(st.integers(-2, 10), st.floats(allow_nan=True), st.text(max_size=3), st.none()), max_size=4)
INDEX = st.fixed_dictionaries(
    {"question": st.one_of(st.sampled_from(["q_safety", "q_police", "q_none", "id", "township"]), st.integers())},
    optional={"kind": st.sampled_from(["share", "score", "composite", "mean", ""]), "favourable": CODES,
              "exclude": CODES, "valid": CODES,
              "scores": st.dictionaries(st.integers(-1, 9), st.one_of(st.integers(-200, 200), st.floats(),
                                                                    st.text(max_size=3)), max_size=5),
              "components": st.dictionaries(st.sampled_from(["safety", "police", "x"]),
                                            st.one_of(st.floats(), st.integers(-1, 3)), max_size=3)})


def _spec(draw: st.DrawFn) -> bytes:
    """A damaged SPEC.yaml: bytes, text, one index replaced, or indices made up."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=60))
    if kind == 1:
        return draw(st.text(max_size=60)).encode("utf-8", errors="surrogatepass")
    indices = dict(SPEC_DICT["indices"]) if kind == 2 else {}
    indices.update(draw(st.dictionaries(st.sampled_from(["safety", "police", "x", ""]), INDEX, min_size=1,
                                        max_size=2)))
    body: dict[str, object] = {"indices": indices}
    if draw(st.booleans()):
        body["integrity"] = {"straightlining": draw(st.lists(st.sampled_from(["q_safety", "q_police", "q_x"]))),
                             "jump_z": draw(st.one_of(st.floats(), st.text(max_size=3)))}
    return _yaml(body)


def _yaml(body: object) -> bytes:
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(body, buffer)
    return buffer.getvalue().encode()


SPEC = _yaml(SPEC_DICT)


PLAUSIBLE = {"q_safety": ["1", "2", "3", "4", "5", "8", "9", ""], "q_police": ["1", "2", "3", "4", "8", ""],
             "age_group": ["18-29", "30-44", "45-59", "60+"], "sex": ["M", "F"], "township": ["A", "B"],
             "wave": ["1", "2"]}
VALID_OPTIONS = st.lists(st.one_of(
    st.tuples(st.just("--ci"), st.sampled_from(["logit", "wilson", "kg"])),
    st.tuples(st.just("--trim-upper"), st.sampled_from(["1.5", "3", "10"])),
    st.tuples(st.just("--trim-median"), st.sampled_from(["2", "4"])),
    st.tuples(st.just("--min-cell"), st.sampled_from(["1", "3", "10", "60"])),
    st.tuples(st.just("--variance"), st.sampled_from(["exact", "rake-sweeps"])),
    st.tuples(st.just("--no-collapse")),
), max_size=3)


def _plausible(draw: st.DrawFn) -> pd.DataFrame:
    """Answers that could be real: a random part of the sample, some answers and cells changed to
    other valid codes (thin or empty cells, a township with a handful of respondents)."""
    frame = RESPONSES.sample(frac=draw(st.floats(0.02, 1.0)), random_state=draw(st.integers(0, 2**16)))
    for _ in range(draw(st.integers(0, 30))):
        if not len(frame):
            break
        column = draw(st.sampled_from(list(PLAUSIBLE)))
        frame.iat[draw(st.integers(0, len(frame) - 1)), list(frame.columns).index(column)] = \
            draw(st.sampled_from(PLAUSIBLE[column]))
    return frame


@st.composite
def inputs(draw: st.DrawFn) -> tuple[bytes, bytes, bytes, list[tuple[str, ...]]]:
    """RESPONSES, POP and SPEC, and options: a third of the examples are plausible data (which
    should mostly run to the end), the others damage one or two of the inputs."""
    cells = draw(st.sampled_from([CELLS, MARGINS]))
    if draw(st.integers(0, 2)) == 0:
        return _plain(_plausible(draw)), _plain(cells), SPEC, draw(VALID_OPTIONS)
    damaged = draw(st.sets(st.sampled_from(["responses", "population", "spec", "options"]), min_size=1,
                           max_size=2))
    data = _csv_bytes(_mutated(RESPONSES, draw), draw) if "responses" in damaged else _plain(RESPONSES)
    pop = _csv_bytes(_mutated(cells, draw), draw) if "population" in damaged else _plain(cells)
    spec = _spec(draw) if "spec" in damaged else SPEC
    return data, pop, spec, draw(OPTIONS) if "options" in damaged else []


def _plain(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _files(tmp_path: Path, **contents: bytes) -> dict[str, Path]:
    paths = {}
    for name, data in contents.items():
        paths[name] = tmp_path / f"{name}.{'yaml' if name == 'spec' else 'csv'}"
        paths[name].write_bytes(data)
    return paths


@pytest.mark.slow
@settings(max_examples=examples(600), derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(files=inputs())
def test_minyi_analyze_exits_0_or_2_with_a_message(tmp_path: Path,
                                                   files: tuple[bytes, bytes, bytes, list[tuple[str, ...]]]) -> None:
    data, pop, spec, options = files
    paths = _files(tmp_path, responses=data, population=pop, spec=spec)
    args = ["analyze", str(paths["responses"]), "--population", str(paths["population"]), "--spec",
            str(paths["spec"]), "--csv", str(tmp_path / "out.csv"), *(a for option in options for a in option)]
    result = CliRunner().invoke(minyi, args)
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: how many ran to the end
    assert result.exception is None or isinstance(result.exception, SystemExit), _shown(result.exception)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error:" in result.output or "Invalid value" in result.output, result.output


def _shown(exc: BaseException | None) -> str:
    import traceback

    return "".join(traceback.format_exception(exc)) if exc else ""


def test_the_bundled_example_still_runs(tmp_path: Path) -> None:
    """The fuzzing above starts from files that work (else it would test one error over and over)."""
    paths = _files(tmp_path, responses=_plain(RESPONSES), population=_plain(CELLS), spec=SPEC)
    result = CliRunner().invoke(minyi, ["analyze", str(paths["responses"]), "--population",
                                        str(paths["population"]), "--spec", str(paths["spec"])])
    assert result.exit_code == 0, result.output
