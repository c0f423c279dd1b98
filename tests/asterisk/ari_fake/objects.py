"""The fake's channels, playbacks, recordings and bridges, and their ARI JSON (the models of
channels.json, playbacks.json, recordings.json and bridges.json)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ari_fake.residents import Mute, Resident, Speak

CST = timezone(timedelta(hours=8))


def ari_time() -> str:
    """Asterisk's time format: ``2026-11-02T18:30:00.123+0800``."""
    now = datetime.now(CST)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}" + now.strftime("%z")


@dataclass
class Playback:
    id: str
    media: list[str]
    channel_id: str
    language: str
    state: str = "queued"
    index: int = 0
    canceled: bool = False
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def json(self) -> dict[str, Any]:
        out = {"id": self.id, "media_uri": self.media[self.index], "target_uri": f"channel:{self.channel_id}",
               "language": self.language, "state": self.state}
        if self.index + 1 < len(self.media):
            out["next_media_uri"] = self.media[self.index + 1]
        return out


@dataclass
class Recording:
    name: str
    format: str
    channel_id: str
    max_duration: int
    max_silence: int
    terminate_on: str
    state: str = "queued"
    duration: float = 0.0
    talking: float = 0.0
    cause: str | None = None
    finish: asyncio.Event = field(default_factory=asyncio.Event)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "format": self.format, "target_uri": f"channel:{self.channel_id}",
                               "state": self.state}
        if self.state in ("done", "failed", "canceled"):
            out.update(duration=int(round(self.duration)), talking_duration=int(round(self.talking)),
                       silence_duration=int(round(self.duration - self.talking)))
        if self.cause:
            out["cause"] = self.cause
        return out


@dataclass
class Channel:
    id: str
    name: str
    number: str
    resident: Resident | None
    caller: dict[str, str]
    context: str = "default"
    state: str = "Down"
    language: str = "en"
    created: str = field(default_factory=ari_time)
    stasis_args: list[str] | None = None  # in the Stasis app while not None
    app_data: str = ""
    owner_app: str = ""  # the app it was originated into (both halves of a Local channel)
    from_dialplan: bool = False  # re-entered Stasis from the dialplan
    peer_id: str | None = None
    bridge_id: str | None = None
    spying_on: str | None = None  # a snoop channel: the channel it hears (both directions mixed)
    snoops: list[str] = field(default_factory=list)  # snoop channels on this one: they end with it
    gone: bool = False
    commands: asyncio.Queue[Playback | Recording] = field(default_factory=asyncio.Queue)
    current: Playback | Recording | None = None
    heard: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    speech: Speak | Mute | None = None
    last_dtmf_at: float | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        in_stasis = self.stasis_args is not None
        return {
            "id": self.id, "name": self.name, "state": self.state, "protocol_id": "",
            "caller": dict(self.caller), "connected": {"name": "", "number": self.number},
            "accountcode": "", "language": self.language, "creationtime": self.created,
            "dialplan": {"context": self.context, "exten": "s" if in_stasis else self.number, "priority": 1,
                         "app_name": "Stasis" if in_stasis else "", "app_data": self.app_data if in_stasis else ""},
        }


@dataclass
class Bridge:
    id: str
    name: str
    bridge_type: str
    created: str = field(default_factory=ari_time)
    channels: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "technology": "simple_bridge", "bridge_type": self.bridge_type,
                "bridge_class": "stasis", "creator": "Stasis", "name": self.name, "channels": list(self.channels),
                "creationtime": self.created, "video_mode": "none"}
