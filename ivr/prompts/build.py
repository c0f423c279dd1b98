"""Render every prompt of a questionnaire ahead of fieldwork, so calls never wait for synthesis,
and say which recordings are still missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ivr.engine import Prompt
from ivr.prompts.audio import MISSING, RECORDED, PromptAudio, wav_info
from ivr.prompts.catalogue import all_prompts
from ivr.prompts.tts import SynthesisError
from survey.questionnaire import Questionnaire


@dataclass(frozen=True)
class BuiltPrompt:
    prompt: Prompt
    source: str  # recorded / synth / missing
    path: Path | None
    duration_s: float | None
    problem: str | None = None  # what is wrong with the recording or the synthesis

    @property
    def recorded(self) -> bool:
        return self.source == RECORDED


def build_prompts(questionnaire: Questionnaire, audio: PromptAudio) -> list[BuiltPrompt]:
    """Every prompt resolved to a playable file (recorded, converted or synthesised)."""
    return [_build(prompt, audio) for prompt in all_prompts(questionnaire)]


def _build(prompt: Prompt, audio: PromptAudio) -> BuiltPrompt:
    try:
        resolved = audio.resolve(prompt)
        info = wav_info(resolved.path) if resolved.path is not None else None
    except (SynthesisError, ValueError) as exc:
        return BuiltPrompt(prompt, MISSING, None, None, str(exc))
    duration = info.duration_s if info is not None else None
    return BuiltPrompt(prompt, resolved.source, resolved.path, duration, _recording_note(audio, prompt))


def _recording_note(audio: PromptAudio, prompt: Prompt) -> str | None:
    """A word about a recording that is not in telephony format (8 kHz, mono, 16-bit PCM)."""
    recording = audio.recording(prompt)
    if recording is None:
        return None
    try:
        info = wav_info(recording)
    except ValueError:
        found = "not PCM"
    else:
        if info.telephony:
            return None
        found = str(info)
    done = "converted" if audio.tools is not None else "convert it"
    return f"recorded as {found}; {done} to 8000 Hz mono 16-bit"
