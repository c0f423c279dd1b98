"""The webhook benchmark runs end to end: a real server on loopback, signed HTTP posts, whole
interviews stored complete (a few calls only, to keep the suite fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_twilio


def test_the_benchmark_drives_interviews_over_http_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_twilio.run(calls=3, concurrency=3, server_kind="werkzeug", workers=1, threads=1,
                            database_url=None) == 0
    out = capsys.readouterr().out
    assert "interviews stored complete: 3/3" in out
    assert "requests: 60 in" in out and "requests/s" in out and "p99" in out
