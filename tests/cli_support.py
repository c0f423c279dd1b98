"""Running ``minyi`` commands in-process, as a survey centre would from an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from minyi.cli import app


def run(*args: str) -> Result:
    """``minyi ARGS``: a command may exit non-zero, never with a traceback."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def upgraded_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty SQLite database named by the environment, upgraded with ``minyi db upgrade``."""
    database = f"sqlite:///{tmp_path}/minyi.db"
    monkeypatch.setenv("MINYI_DATABASE_URL", database)
    monkeypatch.setenv("MINYI_SECRET_KEY", "test-secret")
    assert run("db", "upgrade").exit_code == 0
    return database
