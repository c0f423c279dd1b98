"""Which addresses ``minyi web`` may serve on with which session key."""

from __future__ import annotations

import pytest

from survey.config import Settings
from survey.phones import PhoneKeyError, PhoneKeys
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
