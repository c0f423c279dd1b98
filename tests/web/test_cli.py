"""``minyi web`` serves the app: werkzeug by default, gunicorn with --workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from survey.db import make_engine, upgrade

MINYI = Path(sys.executable).with_name("minyi")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode("utf-8"))
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _web(tmp_path: Path, host: str, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """``minyi web`` on a new database with only ``env`` of the MINYI_ settings; the process and its port."""
    url = f"sqlite:///{tmp_path}/web.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MINYI_")}
    proc = subprocess.Popen([str(MINYI), "web", "--host", host, "--port", str(port), *extra],
                            env={**clean, "MINYI_DATABASE_URL": url, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, port


@pytest.mark.parametrize("extra", [[], ["--workers", "1", "--threads", "2"]], ids=["werkzeug", "gunicorn"])
def test_minyi_web_serves_the_login_page(tmp_path: Path, extra: list[str]) -> None:
    proc, port = _web(tmp_path, "127.0.0.1", {"MINYI_SECRET_KEY": "cli-test-secret"}, *extra)
    try:
        assert "登录" in _wait_for(f"http://127.0.0.1:{port}/login", proc)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_minyi_web_refuses_a_network_address_without_a_secret_key(tmp_path: Path) -> None:
    proc, port = _web(tmp_path, "0.0.0.0", {})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "MINYI_SECRET_KEY is not set" in err.decode() and "Traceback" not in err.decode()
    with pytest.raises(OSError):  # nothing listens: a session forged with the development key opens nothing
        urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/users", timeout=2)


def test_minyi_web_on_loopback_with_the_development_key_warns(tmp_path: Path) -> None:
    proc, port = _web(tmp_path, "127.0.0.1", {})
    try:
        assert "登录" in _wait_for(f"http://127.0.0.1:{port}/login", proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "warning: MINYI_SECRET_KEY is not set" in err.decode()
