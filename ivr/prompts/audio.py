"""Which audio file plays a prompt: a recording when there is one, otherwise synthesised speech.

Recordings live in a folder per questionnaire and language::

    <prompts_dir>/<questionnaire id>/<language>/<key with "/" replaced by "__">.wav
    e.g. prompts/safety/zh/q_safety__text.wav, prompts/safety/en/msg__invalid.wav

Any PCM WAV will do: it is converted once to telephony format (8 kHz, mono, 16-bit, normalised).
Channels call :meth:`PromptAudio.path`; one that can speak text itself (Twilio's ``<Say>``) can
build a :class:`PromptAudio` without audio tools and fall back to speaking when it gets None.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from ivr.engine import Prompt
from ivr.prompts.tts import SAMPLE_RATE, AudioTools

RECORDED, SYNTH, MISSING = "recorded", "synth", "missing"
CACHE_DIR = ".cache"


@dataclass(frozen=True)
class WavInfo:
    rate: int
    channels: int
    bits: int
    duration_s: float

    @property
    def telephony(self) -> bool:
        return (self.rate, self.channels, self.bits) == (SAMPLE_RATE, 1, 16)

    def __str__(self) -> str:
        return f"{self.rate} Hz, {self.channels} channel(s), {self.bits}-bit"


def wav_info(path: Path) -> WavInfo:
    """The format and length of a PCM WAV file; ValueError naming the file if it is not one."""
    try:
        with wave.open(str(path), "rb") as w:
            return WavInfo(w.getframerate(), w.getnchannels(), 8 * w.getsampwidth(), w.getnframes() / w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from None


def recording_name(key: str) -> str:
    """The file name a recording of prompt ``key`` must have."""
    return key.replace("/", "__") + ".wav"


@dataclass(frozen=True)
class Resolved:
    source: str  # recorded / synth / missing
    path: Path | None


class PromptAudio:
    """Resolves prompts of one questionnaire to files. Without ``tools`` nothing is synthesised or
    converted: recordings are returned as they are and other prompts are missing."""

    def __init__(self, prompts_dir: Path, questionnaire_id: str, tools: AudioTools | None = None) -> None:
        self.folder = prompts_dir / questionnaire_id
        self.tools = tools

    @classmethod
    def with_tools(cls, prompts_dir: Path, questionnaire_id: str) -> PromptAudio:
        """Synthesising and converting, with the cache in ``<prompts_dir>/.cache``
        (raises :class:`ivr.prompts.tts.AudioToolMissing` without espeak-ng and sox)."""
        return cls(prompts_dir, questionnaire_id, AudioTools(prompts_dir / CACHE_DIR))

    def recording(self, prompt: Prompt) -> Path | None:
        path = self.folder / prompt.language / recording_name(prompt.key)
        return path if path.is_file() else None

    def resolve(self, prompt: Prompt) -> Resolved:
        recorded = self.recording(prompt)
        if recorded is not None:
            return Resolved(RECORDED, self.tools.telephony_copy(recorded) if self.tools else recorded)
        if self.tools is not None:
            return Resolved(SYNTH, self.tools.speak(prompt.text, prompt.language))
        return Resolved(MISSING, None)

    def path(self, prompt: Prompt) -> Path | None:
        """The file to play for ``prompt``, or None when the channel must speak the text itself."""
        return self.resolve(prompt).path
