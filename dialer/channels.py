"""Telephony channels by name, imported only when asked for (a missing provider library or an
unfinished channel is then a clear error, not a crash at start-up).

A channel class is built as ``Channel(settings, sessions, clock)`` and must follow
:class:`ivr.channels.base.Channel`.
"""

from __future__ import annotations

import importlib

from sqlalchemy.orm import Session, sessionmaker

from ivr.channels.base import Channel
from survey.clock import Clock
from survey.config import Settings

CHANNELS = {
    "simulated": "ivr.channels.simulated:SimulatedChannel",
    "twilio": "ivr.channels.twilio.channel:TwilioChannel",
    "asterisk": "ivr.channels.asterisk.channel:AsteriskChannel",
}


class ChannelUnavailable(RuntimeError):
    """The channel does not exist in this build or cannot be set up; the message says why."""


def open_channel(name: str, settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> Channel:
    if name not in CHANNELS:
        raise ChannelUnavailable(f"unknown channel {name!r}; expected one of {', '.join(CHANNELS)}")
    module_name, class_name = CHANNELS[name].split(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ModuleNotFoundError as exc:
        raise ChannelUnavailable(f"channel {name!r} is not available: module {exc.name} not found") from None
    except AttributeError:
        raise ChannelUnavailable(f"channel {name!r} is not available: {module_name} has no {class_name}") from None
    try:
        channel: Channel = cls(settings, sessions, clock)
    except ValueError as exc:  # e.g. missing provider settings
        raise ChannelUnavailable(f"channel {name!r} cannot start: {exc}") from None
    return channel
