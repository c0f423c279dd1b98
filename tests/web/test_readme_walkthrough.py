"""The README's web walk-through: its rehearsed round leaves work for staff that is due when the
web app opens (a rehearsal started at the moment of `minyi dial` would leave it due hours later)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]


def _the_rehearsal() -> str:
    """The walk-through's commands up to the round itself (adding users asks for passwords, and
    `minyi web` serves until stopped)."""
    section = (ROOT / "README.md").read_text("utf-8").split("## The web console", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "README: no sh block under 'The web console'"
    block = found.group(1).replace("\\\n", " ")
    return "\n".join(line for line in block.splitlines() if not line.startswith(("minyi user add", "minyi web")))


@pytest.mark.slow
def test_the_walkthrough_round_leaves_tasks_that_are_due_now(tmp_path: Path) -> None:
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    minyi = Path(sys.executable).with_name("minyi")
    env = {**os.environ, "PATH": f"{minyi.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", _the_rehearsal()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with create_engine(f"sqlite:///{tmp_path / 'walk.db'}").connect() as conn:
        due = [row.due_at for row in conn.execute(text("SELECT due_at FROM follow_up_tasks WHERE status = 'open'"))]
    assert due, "the rehearsal left no work for staff"
    now = datetime.now(UTC).replace(tzinfo=None)
    assert all(datetime.fromisoformat(str(d)) <= now for d in due), due
