"""Plumbing for the reliability tests: other packages' conftest fixtures, child processes that can
be SIGKILLed, and the PostgreSQL restart."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import requests
from sqlalchemy import create_engine, text

TESTS = Path(__file__).resolve().parents[1]
MINYI = Path(sys.executable).with_name("minyi")


def sibling_conftest(package: str) -> ModuleType:
    """``tests/<package>/conftest.py`` as a module of its own, so that a test module can import its
    fixtures (pytest shows a conftest's fixtures only below its folder)."""
    name = f"_reliability_{package}_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / package / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class Child:
    """A child process whose output goes to a file (a pipe nobody reads could block it)."""

    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL to the child and everything it started (gunicorn's workers): no clean-up of
        any kind, as when the machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def wait(self, timeout_s: float) -> int:
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.popen.args!r} still running after {timeout_s} s:\n{self.output()}") from None

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def spawn(args: Sequence[str], env: Mapping[str, str], log: Path) -> Child:
    """Start ``args`` (in a process group of its own) with ``env`` added to this environment,
    stdout and stderr into ``log``."""
    with log.open("ab") as out:
        popen = subprocess.Popen(list(args), env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                 cwd=log.parent, start_new_session=True)
    return Child(popen, log)


def minyi(*args: str) -> list[str]:
    return [str(MINYI), *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def restart_postgres(url: str, timeout_s: float = 60.0) -> None:
    """Restart the local PostgreSQL cluster (every connection is cut) and wait until ``url`` answers."""
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"], check=True,
                   capture_output=True, timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()


def serve_web(env: Mapping[str, str], folder: Path, port: int, name: str, timeout_s: float = 60.0) -> Child:
    """``minyi web`` under gunicorn (one worker, as in production) on ``port``, once it answers."""
    child = spawn(minyi("web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"), env,
                  folder / f"{name}.log")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200:
                return child
        except requests.ConnectionError:
            pass
        assert child.running, f"the web server did not start:\n{child.output()}"
        assert time.monotonic() < deadline, f"the web server did not answer in {timeout_s} s:\n{child.output()}"
        time.sleep(0.05)


def examples(n: int) -> int:
    """A fuzz test's example count: ``n`` for ``make test`` (bounded time), times
    ``MINYI_FUZZ_SCALE`` for a deeper run (``MINYI_FUZZ_SCALE=10 pytest tests/reliability``)."""
    return max(1, round(n * float(os.environ.get("MINYI_FUZZ_SCALE", "1"))))
