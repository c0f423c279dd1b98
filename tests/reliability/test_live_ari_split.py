"""Optional: `minyi ari` and `minyi dial --channel asterisk --no-serve` as separate processes on a
real Asterisk (MINYI_TEST_ARI_URL, _USERNAME, _PASSWORD and the dialplan of docs/asterisk.md, as
tests/asterisk/test_asterisk_live.py). The serving process adopts and carries every call the dialer
places; the dialer's summary, printed once every result is in, counts them; the dialer never takes
the app. Then the serving process's connection drops (MINYI_TEST_ARI_DROP, e.g. `ss -K dst
127.0.0.1 dport = 8088`) while it is idle, and it serves a second round all the same."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from asterisk_world import World, wait_for
from reliability_support import minyi, sibling_conftest, spawn
from sqlalchemy import func, select
from test_fault_dial_asterisk import NUMBERS, _check_fieldwork, _dial, _env, _open, _sample

from survey.config import Settings
from survey.models import Interview
from survey.vocabulary import InterviewStatus

LIVE = os.environ.get("MINYI_TEST_ARI_URL")
DROP = os.environ.get("MINYI_TEST_ARI_DROP")
pytestmark = [pytest.mark.skipif(not LIVE, reason="no real Asterisk: set MINYI_TEST_ARI_URL (and _USERNAME, _PASSWORD)"),
              pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]
world = sibling_conftest("asterisk").world


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(ari_url=LIVE or "", ari_username=os.environ.get("MINYI_TEST_ARI_USERNAME", "minyi"),
                    ari_password=os.environ.get("MINYI_TEST_ARI_PASSWORD", ""), ari_app="minyi-split",
                    asterisk_endpoint=os.environ.get("MINYI_TEST_ENDPOINT", "Local/{digits}@minyi-residents"),
                    recordings_dir=str(tmp_path / "recordings"))


def _complete(world: World) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count(Interview.id)).where(Interview.status == InterviewStatus.COMPLETE)) or 0


def _round(world: World, settings: Settings, db_url: str, tmp_path: Path, name: str, placed: int) -> None:
    dialer = _dial(db_url, settings, tmp_path, name, 0, "--no-serve", "--lines", "4")
    assert dialer.wait(400) == 0, dialer.output()
    with world.sessions() as s:  # when the summary was printed
        assert not _open(s), [(a.id, a.status) for a in _open(s)]
    assert f"stopped: nothing due now; {placed} call(s) placed, {placed} finished," in dialer.output(), \
        dialer.output()


def test_minyi_ari_serves_what_a_separate_minyi_dial_places_on_a_real_asterisk(
        world: World, settings: Settings, db_url: str, tmp_path: Path) -> None:
    numbers = NUMBERS[:4]
    _sample(world, numbers)
    server = spawn(minyi("ari"), _env(db_url, settings), tmp_path / "ari.log")
    try:
        wait_for(lambda: "ARI connected" in server.output(), 60, "minyi ari to register the app")
        _round(world, settings, db_url, tmp_path, "dial1", len(numbers))
        assert _complete(world) == len(numbers)
        if DROP:
            subprocess.run(DROP, shell=True, check=True, timeout=60)  # noqa: S602 - the tester's own command
            wait_for(lambda: server.output().count("ARI connected") >= 2, 60, "minyi ari to connect again")
            _sample(world, NUMBERS[4:])
            _round(world, settings, db_url, tmp_path, "dial2", len(NUMBERS) - len(numbers))
            assert _complete(world) == len(NUMBERS)
        assert server.running, server.output()
    finally:
        server.kill()
    assert "another connection took the app" not in server.output()  # the dialers never took it
    _check_fieldwork(world.sessions)
