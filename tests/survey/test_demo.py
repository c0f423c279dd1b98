"""The main job end to end on a small county: fieldwork, weighting, bulletin, true vs estimated."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import nullcontext
from pathlib import Path

import pytest
from pypdf import PdfReader

import minyi.demo as demo_module
from analysis.results import COUNTY
from dialer.protocol import ChannelNotReady
from ivr.channels.simulated import SimulatedChannel
from minyi.demo import HEADLINE, DemoOptions, DemoResult, run_demo
from survey.config import load_settings
from survey.db import make_engine, session_factory, session_scope
from survey.models import CallAttempt, Case
from survey.surveys import survey_by_code
from survey.vocabulary import SurveyStatus


def _run(tmp: Path, seed: int) -> DemoResult:
    options = DemoOptions(out=tmp, seed=seed, townships=3, quota=25, replicate_size=40)
    return run_demo(options, load_settings({}))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return _run(tmp_path_factory.mktemp("demo"), seed=11)


def test_both_rounds_reach_their_quotas(demo: DemoResult) -> None:
    assert [r.period for r in demo.rounds] == ["2026-09", "2026-10"]
    for round_ in demo.rounds:
        assert round_.worker.stop_reason == "every township reached its quota"
    for code in demo.names:
        e = demo.estimate("safety", code, "2026-10")
        assert e is not None and e.n >= 20  # 25 completes, a few answer "don't know"


def test_estimates_are_intervals_around_proportions_with_change(demo: DemoResult) -> None:
    for index in HEADLINE:
        for town in [*demo.names, COUNTY]:
            e = demo.estimate(index, town, "2026-10")
            assert e is not None and e.estimate is not None and e.ci_low is not None and e.ci_high is not None
            # a township of 25 may well answer 100% favourably: its estimate is then the interval's end
            assert 0 <= e.ci_low <= e.estimate <= e.ci_high <= 1 and e.ci_low < e.ci_high
            assert 0 < demo.truth[index][town] < 1
    changes = [c for c in demo.analysis.changes if c.period_from == "2026-09" and c.period_to == "2026-10"]
    assert {c.stratum for c in changes if c.index == "safety"} == {*demo.names, COUNTY}


def test_the_bulletin_is_a_chinese_pdf_with_the_county_figure(demo: DemoResult) -> None:
    text = "".join(page.extract_text() for page in PdfReader(demo.bulletin).pages)
    county = demo.estimate("safety", COUNTY, "2026-10")
    assert county is not None and county.estimate is not None
    assert "公众安全感" in text and "调查说明" in text
    assert f"{100 * county.estimate:.1f}%" in text


def test_every_case_has_a_final_code_and_rates_are_computed(demo: DemoResult) -> None:
    county = next(r for r in demo.rates if r.stratum == COUNTY)
    assert county.counts["I"] >= 3 * 25
    assert county.rates["RR1"] is not None and 0 < county.rates["RR1"] <= 1


def test_a_second_run_starts_clean_and_another_seed_gives_other_numbers(demo: DemoResult, tmp_path: Path) -> None:
    again = _run(demo.database.parent, seed=11)
    first = demo.estimate("safety", COUNTY, "2026-10")
    assert again.estimate("safety", COUNTY, "2026-10") == first
    other = _run(tmp_path, seed=12)
    assert other.estimate("safety", COUNTY, "2026-10") != first
    assert other.truth != demo.truth


def test_the_rounds_fielded_one_after_the_other_give_the_same_result(demo: DemoResult, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo dials its two rounds side by side, in two processes writing one database, so
    the rows of the two surveys interleave as the processes happen to run; the result must not
    depend on that."""
    monkeypatch.setattr(demo_module, "_second_process", lambda: nullcontext(_InThisProcess()))
    alone = _run(tmp_path, seed=11)
    for period in ("2026-09", "2026-10"):
        for town in [*demo.names, COUNTY]:
            assert alone.estimate("satisfaction", town, period) == demo.estimate("satisfaction", town, period)
    assert [r.worker.dispositions for r in alone.rounds] == [r.worker.dispositions for r in demo.rounds]


def test_when_the_current_round_fails_the_second_process_is_ended_not_waited_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_round(*_args: object) -> None:
        raise RuntimeError("the channel broke")

    monkeypatch.setattr(demo_module, "field_round", broken_round)  # here only: the second process imports its own
    with pytest.raises(RuntimeError, match="the channel broke"):
        _run(tmp_path, seed=11)
    assert multiprocessing.active_children() == []
    with session_scope(session_factory(make_engine(f"sqlite:///{tmp_path / 'minyi.db'}"))) as session:
        previous = survey_by_code(session, "demo-2026-09")
        assert previous.status != SurveyStatus.CLOSED  # it was stopped before it could finish its round


def test_the_demo_checks_its_channel_before_the_first_call_as_dial_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []

    def not_ready(channel: SimulatedChannel, survey_id: int) -> None:
        checked.append(survey_id)
        raise ChannelNotReady("the simulated county has no township T99")

    monkeypatch.setattr(demo_module, "_second_process", lambda: nullcontext(_InThisProcess()))
    monkeypatch.setattr(SimulatedChannel, "preflight", not_ready)
    with pytest.raises(ChannelNotReady, match="no township T99"):
        _run(tmp_path, seed=11)
    assert checked  # the first round to be fielded was checked, and nothing was dialled or imported
    with session_scope(session_factory(make_engine(f"sqlite:///{tmp_path / 'minyi.db'}"))) as session:
        assert session.query(CallAttempt).count() == 0 and session.query(Case).count() == 0


class _InThisProcess:
    """A stand-in for the demo's second process: what is submitted runs at once, here."""

    def submit(self, work: Callable[..., object], *args: object) -> Future[object]:
        done: Future[object] = Future()
        done.set_result(work(*args))
        return done


def test_export_and_report_commands_work_on_the_demo_database(demo: DemoResult, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import pyreadstat
    from typer.testing import CliRunner

    from minyi.cli import app

    monkeypatch.setenv("MINYI_DATABASE_URL", f"sqlite:///{demo.database}")
    runner = CliRunner()
    sav = tmp_path / "answers.sav"
    result = runner.invoke(app, ["export", "--survey", "demo-2026-10", "--format", "sav", "--out", str(sav)])
    assert result.exit_code == 0, result.output
    frame, meta = pyreadstat.read_sav(str(sav))
    county = next(r for r in demo.rates if r.stratum == COUNTY)
    assert len(frame) == county.counts["I"]
    assert meta.variable_value_labels["q_safety"][1.0] == "安全"
    assert not any("phone" in c or "number" in c for c in frame.columns)
    pdf = tmp_path / "bulletin-en.pdf"
    result = runner.invoke(app, ["report", "--survey", "demo-2026-10", "--period", "2026-10", "--lang", "en",
                                 "--out", str(pdf)])
    assert result.exit_code == 0, result.output
    assert "Public safety" in "".join(p.extract_text() for p in PdfReader(pdf).pages)
    wrong = runner.invoke(app, ["report", "--survey", "demo-2026-10", "--period", "2026-11", "--out", str(pdf)])
    assert wrong.exit_code == 2 and "2026-10" in wrong.output
