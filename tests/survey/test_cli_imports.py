"""The CLI loads only what the command asked for: ``minyi --help`` and small commands start
quickly, without the analysis, PDF or web stacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "scipy", "numpy", "pyarrow", "reportlab", "matplotlib", "flask", "sqlalchemy", "openpyxl")
_PROBE = """
import json, sys
from minyi.cli import app
try:
    app(sys.argv[1:], prog_name="minyi")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def loaded(*args: str) -> list[str]:
    """The heavy packages a fresh interpreter has imported after ``minyi ARGS``."""
    out = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(("args", "allowed"), [
    ((("--help",)), ()),
    ((("survey", "--help")), ()),
    ((("survey", "show", "--help")), ("sqlalchemy",)),  # reads the database, but no analysis stack
    ((("questionnaire", "validate", "--help")), ()),  # openpyxl only for a workbook
    ((("keys", "generate", "--help")), ()),
])
def test_help_and_small_commands_import_only_what_they_use(args: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    assert [m for m in loaded(*args) if m not in allowed] == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The probe is not blind: the demo, which runs the whole analysis, loads pandas."""
    assert "pandas" in loaded("demo", "--help")
