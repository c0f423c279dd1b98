"""Telephony channels by name, imported only when asked for (a missing provider library or an
unfinished channel is then a clear error, not a crash at start-up).

Each entry names a callable (a class or a factory function) that builds the channel from
``(settings, sessions, clock)``; what it builds follows :class:`dialer.protocol.Channel`.
"""

from __future__ import annotations

import importlib

from sqlalchemy.orm import Session, sessionmaker

from dialer.protocol import Channel
from survey.clock import Clock
from survey.config import Settings

CHANNELS = {
    "simulated": "ivr.channels.simulated:from_settings",
    "twilio": "ivr.channels.twilio.channel:TwilioChannel",
    "asterisk": "ivr.channels.asterisk.channel:AsteriskChannel",
}


class ChannelUnavailable(RuntimeError):
    """The channel does not exist in this build or cannot be set up; the message says why."""


def open_channel(name: str, settings: Settings, sessions: sessionmaker[Session], clock: Clock,
                 **options: object) -> Channel:
    """``options``: keyword arguments of that channel's own (Asterisk's ``serve``)."""
    if name not in CHANNELS:
        raise ChannelUnavailable(f"unknown channel {name!r}; expected one of {', '.join(CHANNELS)}")
    module_name, attr = CHANNELS[name].split(":")
    try:
        build = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as exc:
        raise ChannelUnavailable(f"channel {name!r} is not available: module {exc.name} not found") from None
    except AttributeError:
        raise ChannelUnavailable(f"channel {name!r} is not available: {module_name} has no {attr}") from None
    try:
        channel: Channel = build(settings, sessions, clock, **options)
    except ValueError as exc:  # e.g. missing provider settings
        raise ChannelUnavailable(f"channel {name!r} cannot start: {exc}") from None
    return channel
