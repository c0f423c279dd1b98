"""Which addresses ``minyi web`` may serve on with which session key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from survey.config import Settings
from survey.phones import PhoneKeyError, PhoneKeys
from web.app import APP_LOAD_ERROR, create_app
from web.startup import UnsafeToServe, check_keys, check_secret_key, is_loopback


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("[::1]", True),
                                                ("localhost", True), ("127.0.0.2", True), ("0.0.0.0", False),
                                                ("::", False), ("192.168.1.10", False), ("survey.example", False)])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_development_key_is_for_loopback_only() -> None:
    assert "development key" in check_secret_key(Settings(), "127.0.0.1")[0]
    with pytest.raises(UnsafeToServe, match="MINYI_SECRET_KEY is not set: refusing to serve on 0.0.0.0"):
        check_secret_key(Settings(), "0.0.0.0")


def test_a_short_key_is_refused_off_loopback() -> None:
    with pytest.raises(UnsafeToServe, match="at least 16"):
        check_secret_key(Settings(secret_key="short"), "0.0.0.0")
    assert check_secret_key(Settings(secret_key="x" * 40), "0.0.0.0") == []


def test_numbers_under_keys_derived_from_the_session_key_are_warned_about() -> None:
    secret = "x" * 40
    assert "MINYI_PHONE_KEY_FILE is not set" in check_keys(Settings(secret_key=secret), "0.0.0.0")[0]
    assert check_keys(Settings(secret_key=secret, phone_key=PhoneKeys.generate().dump()), "0.0.0.0") == []
    with pytest.raises(PhoneKeyError, match="MINYI_PHONE_KEY: expected"):
        check_keys(Settings(secret_key=secret, phone_key="nonsense"), "0.0.0.0")


def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> None:
    for name in [n for n in os.environ if n.startswith("MINYI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MINYI_DATABASE_URL", f"sqlite:///{tmp_path}/m.db")
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_an_app_built_from_the_environment_refuses_the_development_key(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``gunicorn 'web.app:create_app()'`` may listen on any address: without MINYI_SECRET_KEY its
    sessions would be signed with the key in the public source (anyone could forge an admin's)."""
    _environment(monkeypatch, tmp_path)
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == APP_LOAD_ERROR
    assert "MINYI_SECRET_KEY is not set" in capsys.readouterr().err
    _environment(monkeypatch, tmp_path, MINYI_SECRET_KEY="short")
    with pytest.raises(SystemExit):
        create_app()
    _environment(monkeypatch, tmp_path, MINYI_SECRET_KEY="x" * 40)
    assert create_app().config["SECRET_KEY"] == "x" * 40
