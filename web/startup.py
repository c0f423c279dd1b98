"""What ``minyi web`` checks before it listens: off the loopback interface, sessions must be
signed with a key of the centre's own, never with the development key from the public source;
phone keys must be readable, and a warning says when numbers still use keys derived from the
session key."""

from __future__ import annotations

import ipaddress

from survey.config import DEVELOPMENT_SECRET_KEY, Settings
from survey.errors import Refused
from survey.phones import configured_keys

MIN_SECRET_LENGTH = 16


class UnsafeToServe(Refused):
    """The app would be reachable from the network with a session key others can know."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_keys(settings: Settings, host: str) -> list[str]:
    """Warnings to print before serving on ``host``; raises :class:`UnsafeToServe` (the session
    key) or :class:`survey.phones.PhoneKeyError` (the phone keys) when it must not start."""
    configured_keys(settings)
    warnings = check_secret_key(settings, host)
    if not (settings.phone_key or settings.phone_key_file):
        warnings.append("MINYI_PHONE_KEY_FILE is not set: phone numbers are encrypted with keys derived from "
                        "MINYI_SECRET_KEY; give them keys of their own (docs/keys.md)")
    return warnings


def check_secret_key(settings: Settings, host: str) -> list[str]:
    """Warnings to print before serving on ``host``; raises :class:`UnsafeToServe` when the
    session key is the development key (or too short) and ``host`` is reachable from the network."""
    development = settings.secret_key == DEVELOPMENT_SECRET_KEY
    if is_loopback(host):
        return ["MINYI_SECRET_KEY is not set: sessions are signed with the development key, which is "
                "public; it is accepted on a loopback address only"] if development else []
    if development:
        raise UnsafeToServe("MINYI_SECRET_KEY is not set: refusing to serve on %(host)s with the development "
                            "key, which is public (anyone could sign a session with it). Set MINYI_SECRET_KEY "
                            "to a long random value (docs/keys.md), or serve on 127.0.0.1", host=host)
    if len(settings.secret_key) < MIN_SECRET_LENGTH:
        raise UnsafeToServe("MINYI_SECRET_KEY is %(length)s characters long: at least %(minimum)s random "
                            "characters are needed to serve on %(host)s (docs/keys.md)",
                            length=len(settings.secret_key), minimum=MIN_SECRET_LENGTH, host=host)
    return []
