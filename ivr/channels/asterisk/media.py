"""Prompt audio for Asterisk: the media URI of a prompt, and installing a questionnaire's prompt
audio into Asterisk's sounds directory.

A prompt ``q_safety/text`` in Mandarin plays as ``sound:minyi/zh/q_safety/text``: Asterisk looks
for ``<sounds dir>/minyi/zh/q_safety/text.wav`` (and other formats) when it finds no
language-specific copy. ``.wav`` is Asterisk's 8 kHz 16-bit mono format, which is what
:mod:`ivr.prompts` renders (recordings converted, the rest synthesised).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ivr.engine import Prompt
from ivr.prompts import PromptAudio, build_prompts, wav_info
from survey.questionnaire import Questionnaire

SUBDIR = "minyi"


class PromptAudioError(ValueError):
    """Prompts Asterisk could not play, each with the reason."""


def media_uri(prompt: Prompt, prefix: str = f"sound:{SUBDIR}/") -> str:
    return f"{prefix}{prompt.language}/{prompt.key}"


def install_prompts(questionnaire: Questionnaire, audio: PromptAudio, sounds_dir: Path) -> list[Path]:
    """Render every prompt of ``questionnaire`` (see ``minyi prompts build``) and copy it to
    ``sounds_dir/minyi/<language>/<key>.wav``, each file replaced atomically so a call never plays
    half of one. Nothing is copied while any prompt has no audio or audio that is not 8 kHz,
    16-bit, mono PCM."""
    built = build_prompts(questionnaire, audio)
    problems = [f"{b.prompt.language} {b.prompt.key}: {b.problem or 'no recording and no speech synthesis'}"
                for b in built if b.path is None]
    problems += [f"{b.path}: {info}" for b in built if b.path is not None and not (info := wav_info(b.path)).telephony]
    if problems:
        raise PromptAudioError("prompts Asterisk cannot play:\n" + "\n".join(problems))
    installed = []
    for b in built:
        assert b.path is not None
        target = sounds_dir / media_uri(b.prompt, f"{SUBDIR}/")
        target = target.with_name(target.name + ".wav")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(b.path, partial)
        os.chmod(partial, 0o644)
        partial.replace(target)
        installed.append(target)
    return installed
