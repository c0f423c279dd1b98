"""What a channel tells the engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answered:
    """The call was answered (or a staff member opened the case): start or resume."""


@dataclass(frozen=True)
class Digits:
    """Keys pressed. ``complete`` is true when the channel collected a whole entry (Twilio's
    ``<Gather>``); false for one key at a time (ARI's per-digit events), which the engine buffers."""

    digits: str
    complete: bool = True


@dataclass(frozen=True)
class Timeout:
    """No (further) key within the collect timeout."""


@dataclass(frozen=True)
class HangUp:
    """The resident hung up or the line dropped."""


@dataclass(frozen=True)
class RecordingDone:
    """An open answer's recording ended. ``path`` is None when nothing usable was recorded."""

    path: str | None
    duration_s: float
    provider_id: str | None = None


Event = Answered | Digits | Timeout | HangUp | RecordingDone
