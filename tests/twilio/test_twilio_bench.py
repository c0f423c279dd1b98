"""The webhook benchmark runs end to end: a real server on loopback, signed HTTP posts, whole
interviews stored complete (a few calls only, to keep the suite fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_twilio


def test_the_benchmark_drives_interviews_over_http_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_twilio.run(calls=3, concurrency=3, workers=1, threads=2, backends=[None], sample=None) == 0
    out = capsys.readouterr().out
    assert "3/3 calls stored complete" in out
    assert "(60 requests," in out and "req/s" in out and "p99" in out
    assert "server CPU" in out  # gunicorn's processes, read from /proc
    assert "sqlite: minyi " in out and "minyi/sample" not in out  # no sample, no ratio


def test_without_the_sample_app_it_says_so_and_measures_minyi_alone(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(bench_twilio.SAMPLE_ENV, raising=False)
    assert bench_twilio.sample_from(None) is None
    assert f"absent (set {bench_twilio.SAMPLE_ENV}" in capsys.readouterr().out


def test_a_directory_that_is_not_the_sample_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a checkout of automated-survey-flask"):
        bench_twilio.sample_from(str(tmp_path))


def _measured(target: str, requests: int, server_cpu: float | None = None) -> bench_twilio.Measurement:
    return bench_twilio.Measurement(target, "sqlite", requests, 1.0, [0.01] * requests, 1, 1, [], [], server_cpu)


def test_the_ratio_is_minyi_over_the_sample_and_only_when_callers_are_not_paced() -> None:
    runs = [_measured("sample", 100, server_cpu=0.25), _measured("minyi", 300)]
    summary = bench_twilio._summary("sqlite", runs, paced=False)
    assert "minyi/sample = 3.00x" in summary and "server CPU 2.50 ms/request" in summary
    paced = bench_twilio._summary("sqlite", runs, paced=True)
    assert "minyi/sample" not in paced and "no ratio" in paced


def test_an_older_checkout_is_measured_beside_and_given_its_own_ratio() -> None:
    runs = [_measured("sample", 100), _measured("old", 200), _measured("minyi", 300)]
    summary = bench_twilio._summary("sqlite", runs, paced=False)
    assert "old 200.0 req/s" in summary and "minyi/sample = 3.00x" in summary and "minyi/old = 1.50x" in summary
    older = bench_twilio.Minyi(Path("/elsewhere"), "old")
    command, _env, cwd = older.command(8000, 1, 1, "sqlite://")
    assert (older.name, cwd) == ("old", Path("/elsewhere/bench")) and command[-1] == "bench_twilio:wsgi_app()"
