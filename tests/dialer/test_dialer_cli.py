"""``minyi sample import`` and ``minyi dial``: output, exit codes, one transaction."""

from __future__ import annotations

import csv
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dialer_fakes import make_survey
from sqlalchemy import func, select
from typer.testing import CliRunner

from dialer import workers
from dialer.worker import Stop, WorkerOptions, WorkerReport
from minyi import channels
from minyi.cli import app
from minyi.commands import dial as dial_command
from survey.clock import SystemClock, VirtualClock
from survey.db import make_engine, session_factory, session_scope, upgrade
from survey.models import CallAttempt, Case, DialerWorker, Survey

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MINYI_DATABASE_URL", url)
    monkeypatch.setenv("MINYI_SECRET_KEY", "test-secret")
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(session_factory(engine)) as s:
        make_survey(s, clock, quotas=(2, 2))
    engine.dispose()
    return url


def _count(url: str) -> int:
    with session_scope(session_factory(make_engine(url))) as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def _frame(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "frame.csv"
    path.write_text("number,township\n" + rows, encoding="gb18030")
    return path


def test_sample_import_reports_counts(db: str, tmp_path: Path) -> None:
    rows = "".join(f"1380013{i:04d},{'T01' if i % 2 else '镇2'}\n" for i in range(10))
    path = _frame(tmp_path, rows + "13800130001,T01\n")
    result = runner.invoke(app, ["sample", "import", str(path), "--survey", "S1", "--replicate-size", "2"])
    assert result.exit_code == 0, result.output
    assert "read as gb18030, 11 data row(s)" in result.output
    assert "duplicate in file" in result.output
    assert _count(db) == 10


BAD_ROWS = ("13800138000,T01\n"  # good
            "1380013,T01\n"  # too short
            "13800138001,T07\n"  # unknown township
            "4008123123,T01\n"  # 400 number
            "95588,T02\n"  # bank service line
            "+44 7911 123456,T02\n"  # foreign
            "110,T02\n"  # emergency
            "abc,T09\n")  # not a number and unknown township


def _rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_good_rows_are_imported_and_bad_ones_written_back_with_their_reason(db: str, tmp_path: Path) -> None:
    path = _frame(tmp_path, BAD_ROWS)
    result = runner.invoke(app, ["sample", "import", str(path), "--survey", "S1"])
    assert result.exit_code == 0, result.output
    assert _count(db) == 1
    table = _table(result.output)
    assert table["imported"] == ["1"] and table["rejected"] == ["7"]
    assert table["unknown township"] == ["2", ""] and table["not a valid number"] == ["2", ""]
    assert table["special-service number"] == ["2", "--allow-service"]
    assert table["foreign number"] == ["1", "--allow-foreign"] and table["emergency number"] == ["1", ""]
    written = tmp_path / "frame.rejected.csv"
    assert f"7 rejected row(s) written to {written}" in result.output
    rows = _rejects(written)
    assert rows[0] == ["number", "township", "reason"]
    assert [r[:2] for r in rows[1:]] == [line.split(",") for line in BAD_ROWS.splitlines()[1:]]
    assert rows[-1][2] == ("number: not a phone number (The string supplied did not seem to be a phone number.); "
                           "township: unknown township (survey S1 has T01, T02)")


def test_fixed_rejects_import_without_their_reason_column(db: str, tmp_path: Path) -> None:
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, "13800138001,T07\n")), "--survey", "S1"])
    fixed = tmp_path / "fixed.csv"
    fixed.write_text((tmp_path / "frame.rejected.csv").read_text("utf-8-sig").replace(",T07,", ",T01,"), "utf-8")
    result = runner.invoke(app, ["sample", "import", str(fixed), "--survey", "S1"])
    assert result.exit_code == 0, result.output
    with session_scope(session_factory(make_engine(db))) as s:
        assert s.scalars(select(Case.frame)).one() == {"frame": "mobile"}


def test_strict_imports_nothing_when_a_row_is_bad(db: str, tmp_path: Path) -> None:
    path = _frame(tmp_path, BAD_ROWS)
    rejects = tmp_path / "out" / "bad.csv"
    rejects.parent.mkdir()
    result = runner.invoke(app, ["sample", "import", str(path), "--survey", "S1", "--strict", "--rejects", str(rejects)])
    assert result.exit_code == 2
    assert "7 bad row(s): nothing was imported (--strict)" in result.output
    assert _count(db) == 0 and len(_rejects(rejects)) == 8


def test_flags_admit_foreign_and_service_numbers_but_never_emergency_ones(db: str, tmp_path: Path) -> None:
    path = _frame(tmp_path, BAD_ROWS)
    result = runner.invoke(app, ["sample", "import", str(path), "--survey", "S1", "--allow-foreign",
                                 "--allow-service"])
    assert result.exit_code == 0, result.output
    assert _count(db) == 4
    assert [r[0] for r in _rejects(tmp_path / "frame.rejected.csv")[1:]] == ["1380013", "13800138001", "110", "abc"]


def test_a_frame_of_bad_rows_only_exits_2(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", "import", str(_frame(tmp_path, "110,T01\n")), "--survey", "S1"])
    assert result.exit_code == 2 and "every row is bad: nothing was imported" in result.output


def test_skip_invalid_is_still_accepted_but_not_with_strict(db: str, tmp_path: Path) -> None:
    path = _frame(tmp_path, BAD_ROWS)
    result = runner.invoke(app, ["sample", "import", str(path), "--survey", "S1", "--skip-invalid"])
    assert result.exit_code == 0 and _count(db) == 1
    result = runner.invoke(app, ["sample", "import", str(path), "--survey", "S1", "--skip-invalid", "--strict"])
    assert result.exit_code == 2 and "contradict" in result.output


def _table(output: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]
    return {row[0]: row[1:] for row in cells if row}


@pytest.mark.parametrize(("args", "message"), [
    (["--survey", "S9"], "no survey 'S9'"),
    (["--survey", "S1", "--replicate-size", "0"], "Invalid value"),
])
def test_sample_import_bad_input(db: str, tmp_path: Path, args: list[str], message: str) -> None:
    path = _frame(tmp_path, "13800138000,T01\n")
    result = runner.invoke(app, ["sample", "import", str(path), *args])
    assert result.exit_code == 2 and message in result.output


def test_sample_import_unreadable_file(db: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["sample", "import", str(empty), "--survey", "S1"])
    assert result.exit_code == 2 and "the file is empty" in result.output


def test_dial_runs_a_campaign_and_closes_it(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.CHANNELS, "fake", "dialer_fakes:completing_channel")
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, "13800138000,T01\n13800138001,T01\n"
                                                                 "13800138002,T02\n13800138003,T02\n13800138004,T02\n")),
                        "--survey", "S1"])
    result = runner.invoke(app, ["dial", "--survey", "S1", "--channel", "fake", "--clock", "virtual", "--lines", "1",
                                 "--until-done", "--quiet", "--close"])
    assert result.exit_code == 0, result.output
    assert "stopped: every township reached its quota; 4 call(s) placed" in result.output
    assert "1 never released; final codes: 1.1 4\n" in result.output  # the undialled number: not 4.80
    with session_scope(session_factory(make_engine(db))) as s:
        assert s.scalars(select(Survey.status)).one() == "closed"


@pytest.mark.parametrize(("args", "message"), [
    (["--survey", "S9"], "no survey 'S9'"),
    (["--survey", "S1", "--channel", "pigeon"], "unknown channel 'pigeon'"),
    (["--survey", "S1", "--channel", "broken"], "channel 'broken' is not available: module no_such_module not found"),
    (["--survey", "S1", "--clock", "sundial"], "--clock must be auto, system or virtual"),
])
def test_dial_bad_input_exits_2(db: str, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    monkeypatch.setitem(channels.CHANNELS, "broken", "no_such_module:Channel")
    result = runner.invoke(app, ["dial", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_dial_refuses_bad_fieldwork_settings(db: str) -> None:
    with session_scope(session_factory(make_engine(db))) as s:
        s.scalars(select(Survey)).one().calling_windows = {"weekday": ["21:00-18:00"]}
    result = runner.invoke(app, ["dial", "--survey", "S1"])
    assert result.exit_code == 2 and "calling_windows.weekday[0]" in result.output


FIVE = "13800138000,T01\n13800138001,T01\n13800138002,T02\n13800138003,T02\n13800138004,T02\n"


def _attempts(url: str) -> int:
    with session_scope(session_factory(make_engine(url))) as s:
        return int(s.scalar(select(func.count()).select_from(CallAttempt)) or 0)


def test_dial_refuses_to_start_on_a_channel_that_is_not_ready(db: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.CHANNELS, "refusing", "dialer_fakes:refused_channel")
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, FIVE)), "--survey", "S1"])
    result = runner.invoke(app, ["dial", "--survey", "S1", "--channel", "refusing", "--quiet"])
    assert result.exit_code == 2
    assert "channel 'refusing' is not ready: Twilio error 20003: Authenticate; nothing was dialled" in result.output
    assert "Traceback" not in result.output and _attempts(db) == 0


def test_dial_stops_with_status_4_when_the_channel_keeps_failing(db: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.CHANNELS, "failing", "dialer_fakes:failing_channel")
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, FIVE)), "--survey", "S1"])
    result = runner.invoke(app, ["dial", "--survey", "S1", "--channel", "failing", "--clock", "virtual",
                                 "--until-done", "--quiet", "--max-channel-failures", "3"])
    assert result.exit_code == 4, result.output
    assert "the channel failed 3 calls in a row (last: ConnectionError: provider said 503); 5 case(s) it had " \
           "taken are back in the queue, no attempt counted" in result.output
    assert _attempts(db) == 0


def test_outside_the_calling_windows_dial_says_when_the_next_opens(db: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.CHANNELS, "fake", "dialer_fakes:completing_channel")
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, FIVE)), "--survey", "S1"])
    # Monday 22:00 in Asia/Shanghai, after the default weekday window (and after the cases fell due)
    late = ["dial", "--survey", "S1", "--channel", "fake", "--clock", "virtual", "--start", "2030-01-07T14:00",
            "--quiet"]
    refused = runner.invoke(app, [*late, "--no-wait"])
    assert refused.exit_code == 3
    assert "no calling window is open now; the next opens 2030-01-08 18:30 (Asia/Shanghai)" in refused.output
    assert _attempts(db) == 0
    waited = runner.invoke(app, late)
    assert waited.exit_code == 0, waited.output
    assert "the simulated clock moves on to the next opening, 2030-01-08 18:30 (Asia/Shanghai)" in waited.output
    assert _attempts(db) == 4  # then both quotas (2 and 2) are met


def test_dial_help_documents_the_exit_statuses_and_waiting() -> None:
    result = runner.invoke(app, ["dial", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("--no-wait", "--until-done", "--max-channel-failures", "3 no calling window open", "4 the channel"):
        assert text in result.output


def _register_worker(url: str, name: str, heartbeat_age_s: float) -> None:
    now = SystemClock().now()
    with session_scope(session_factory(make_engine(url))) as s:
        beat = now - timedelta(seconds=heartbeat_age_s)
        s.add(DialerWorker(name=name, started_at=beat, heartbeat_at=beat))


def test_dial_refuses_a_worker_id_whose_worker_still_beats(db: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.CHANNELS, "fake", "dialer_fakes:completing_channel")
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, FIVE)), "--survey", "S1"])
    _register_worker(db, "w1", 0.0)
    stop = threading.Event()

    def beat() -> None:  # the running worker: beats every 0.2 s
        while not stop.wait(0.2):
            with session_scope(session_factory(make_engine(db))) as s:
                workers.beat(s, "w1", SystemClock().now())

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    try:
        result = runner.invoke(app, ["dial", "--survey", "S1", "--channel", "fake", "--clock", "virtual",
                                     "--worker-id", "w1", "--quiet"])
    finally:
        stop.set()
        beater.join()
    assert result.exit_code == 2, result.output
    assert "error: a worker named 'w1' is running (its last heartbeat 0 s ago): stop it, or give this one another " \
           "--worker-id" in " ".join(result.output.split())
    assert "Traceback" not in result.output and _attempts(db) == 0


def test_a_worker_id_whose_worker_stopped_beating_starts_at_once_or_after_a_beat(
        db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A heartbeat older than --lost-after: dead, no wait. A fresh one that does not move within a
    beat (a worker killed a moment ago): dead too, once a beat has been waited for."""
    monkeypatch.setitem(channels.CHANNELS, "fake", "dialer_fakes:completing_channel")
    runner.invoke(app, ["sample", "import", str(_frame(tmp_path, FIVE)), "--survey", "S1"])
    _register_worker(db, "old", 11.0)
    _register_worker(db, "killed", 0.0)
    for name, lost_after, slowest in (("old", "10", 3.0), ("killed", "60", 8.0)):
        started = time.monotonic()
        result = runner.invoke(app, ["dial", "--survey", "S1", "--channel", "fake", "--clock", "virtual",
                                     "--worker-id", name, "--lost-after", lost_after, "--quiet"])
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started < slowest
    with session_scope(session_factory(make_engine(db))) as s:
        assert s.scalar(select(func.count()).select_from(DialerWorker)) == 0  # both checked out


def test_dial_lost_after_sets_how_long_a_silent_worker_keeps_its_leases(db: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[WorkerOptions] = []
    monkeypatch.setattr(dial_command, "run_worker", lambda *args, **_kw: seen.append(args[4]) or _stopped())
    monkeypatch.setitem(channels.CHANNELS, "fake", "dialer_fakes:completing_channel")
    result = runner.invoke(app, ["dial", "--survey", "S1", "--channel", "fake", "--clock", "virtual",
                                 "--lost-after", "20", "--quiet"])
    assert result.exit_code == 0, result.output
    assert seen[0].stale_after == timedelta(seconds=20) and seen[0].takeover_every_s == 5.0
    too_short = runner.invoke(app, ["dial", "--survey", "S1", "--lost-after", "5"])
    assert too_short.exit_code == 2 and "--lost-after" in too_short.output


def _stopped() -> WorkerReport:
    now = SystemClock().now()
    return WorkerReport(Stop.NOTHING_DUE, 0, 0, {}, 0.0, now, now)
