"""Prompt audio for Asterisk: the media URI of a prompt, and installing rendered prompts into
Asterisk's sounds directory.

A prompt ``q_safety/text`` in Mandarin plays as ``sound:minyi/zh/q_safety/text``: Asterisk looks
for ``<sounds dir>/minyi/zh/q_safety/text.wav`` (and other formats) when it finds no
language-specific copy. ``.wav`` is Asterisk's 8 kHz 16-bit mono format, which is what the
prompt renderer writes.
"""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

from ivr.engine import Prompt

SUBDIR = "minyi"


class PromptAudioError(ValueError):
    """Prompt files Asterisk could not play as ``wav``, each with the reason."""


def media_uri(prompt: Prompt, prefix: str = f"sound:{SUBDIR}/") -> str:
    return f"{prefix}{prompt.language}/{prompt.key}"


def install_prompts(source: Path, sounds_dir: Path) -> list[Path]:
    """Copy every ``<language>/<key>.wav`` under ``source`` to ``sounds_dir/minyi/``, replacing
    each file atomically so a call never plays half a file. Nothing is copied when any file is
    not 8 kHz, 16-bit, mono PCM."""
    files = sorted(source.rglob("*.wav"))
    problems = [f"{f}: {reason}" for f in files if (reason := _unplayable(f))]
    if problems:
        raise PromptAudioError("not 8 kHz 16-bit mono WAV:\n" + "\n".join(problems))
    installed = []
    for f in files:
        target = sounds_dir / SUBDIR / f.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(f, partial)
        os.chmod(partial, 0o644)
        partial.replace(target)
        installed.append(target)
    return installed


def _unplayable(path: Path) -> str | None:
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (8000, 1, 2):
                return f"{w.getframerate()} Hz, {w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit"
    except (wave.Error, EOFError) as exc:
        return f"not a PCM WAV file ({exc})"
    return None
