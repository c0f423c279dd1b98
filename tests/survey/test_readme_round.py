"""The README's "Your own round" block, run as it stands on the example files in docs/examples."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _the_block() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Your own round", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "README: no sh block under 'Your own round'"
    return found.group(1)


@pytest.mark.slow
def test_the_readme_round_runs_from_an_empty_database_to_a_bulletin_and_exports(tmp_path: Path) -> None:
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    minyi = Path(sys.executable).with_name("minyi")
    env = {**os.environ, "PATH": f"{minyi.parent}{os.pathsep}{os.environ['PATH']}",
           "MINYI_SECRET_KEY": "readme-round-secret"}
    env.pop("MINYI_DATABASE_URL", None)
    done = subprocess.run(["bash", "-e", "-c", _the_block()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    own = tmp_path / "own"
    assert (own / "draft-bulletin.pdf").read_bytes().startswith(b"%PDF")
    with (own / "answers.csv").open(encoding="utf-8-sig") as f:
        answers = list(csv.DictReader(f))
    assert answers and all(row["weight"] for row in answers)
    with (own / "estimates.csv").open(encoding="utf-8") as f:
        estimates = list(csv.DictReader(f))
    assert {row["stratum"] for row in estimates} >= {"HW01", "HW02", "HW03", "ALL"}
