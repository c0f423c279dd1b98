"""What the engine tells a channel to do next."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prompt:
    """One thing to say. ``key`` names the audio (``q_safety/text``, ``msg/invalid``)."""

    key: str
    text: str
    language: str


@dataclass(frozen=True)
class Collect:
    """Keys to collect after the prompts. ``num_digits`` for a fixed-length entry, otherwise up to
    ``max_digits`` ended by ``finish_key``. The repeat and operator keys are always accepted alone."""

    num_digits: int | None
    max_digits: int
    finish_key: str | None
    timeout_s: float


@dataclass(frozen=True)
class Record:
    max_seconds: int
    finish_key: str = "#"
    beep: bool = True
    silence_s: float = 5.0


@dataclass(frozen=True)
class Step:
    prompts: tuple[Prompt, ...] = ()
    collect: Collect | None = None
    record: Record | None = None
    hangup: bool = False
    transfer: bool = False  # connect to an operator (channels without one hang up instead)
    question_id: str | None = None
    keep_playing: bool = field(default=False)  # a buffered key: keep collecting, no new prompt
