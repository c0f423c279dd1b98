"""``gunicorn 'web.app:create_app()'`` with a wrong setting (or phone key): one line that names it and gunicorn
stops ("App failed to load"), with no traceback and no worker respawned again and again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MINYI_")}
    environment.update(PYTHONPATH=str(ROOT), MINYI_DATABASE_URL=f"sqlite:///{tmp_path}/m.db", **env)
    return subprocess.run([str(GUNICORN), "--bind", f"127.0.0.1:{_free_port()}", "--workers", "1",
                           "--control-socket", str(tmp_path / "gunicorn.ctl"), "web.app:create_app()"], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("env", "words"), [
    ({"MINYI_TRUSTED_PROXIES": "lots"}, "MINYI_TRUSTED_PROXIES='lots'"),
    ({"MINYI_CONFIG": "/nonexistent/minyi.toml"}, "MINYI_CONFIG='/nonexistent/minyi.toml'"),
    ({"MINYI_SECRET_KEY": "x" * 40, "MINYI_PHONE_KEY": "nonsense"}, "MINYI_PHONE_KEY"),
    ({}, "MINYI_SECRET_KEY is not set"),
])
def test_a_wrong_setting_is_one_line_and_gunicorn_stops(env: dict[str, str], words: str, tmp_path: Path) -> None:
    done = _serve(env, tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], done.stderr
    assert "App failed to load" in done.stderr


def test_a_config_file_with_a_wrong_type_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "minyi.toml"
    config.write_text('twilio_cps = "fast"\n', encoding="utf-8")
    done = _serve({"MINYI_CONFIG": str(config)}, tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(errors) == 1 and "twilio_cps" in errors[0], done.stderr
