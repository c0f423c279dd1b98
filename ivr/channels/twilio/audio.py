"""Recorded prompts for ``<Play>``: public URLs for the recordings :mod:`ivr.prompts` finds.

Only real recordings are played; any other prompt is spoken by Twilio's own ``<Say>`` voice,
which sounds better than offline synthesis. The web blueprint serves the files under
``/twilio/prompts/<questionnaire id>/<language>/<file>``, ASCII by construction (ids, language
codes and keys are ASCII), without a signature check: prompt audio is no secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ivr.channels.twilio.urls import MOUNT, PROMPTS, public_base
from ivr.engine import Prompt
from ivr.prompts import PromptAudio, recording_name

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}")


class PromptRecordings:
    """Recorded prompt files under ``prompts_dir`` (``MINYI_PROMPTS_DIR``), and their URLs."""

    def __init__(self, prompts_dir: Path, public_url: str) -> None:
        self.prompts_dir = prompts_dir
        self.base = public_base(public_url)

    def urls_for(self, questionnaire_id: str) -> Callable[[Prompt], str | None]:
        """Prompt → the public URL of its recording, or None (then Twilio speaks the text)."""
        audio = PromptAudio(self.prompts_dir, questionnaire_id)  # no tools: recordings only

        def url(prompt: Prompt) -> str | None:
            name = recording_name(prompt.key)
            if not all(_PART.fullmatch(p) for p in (questionnaire_id, prompt.language, name)):
                return None
            if audio.recording(prompt) is None:
                return None
            return f"{self.base}{MOUNT}{PROMPTS}/{questionnaire_id}/{prompt.language}/{name}"

        return url

    def file(self, questionnaire_id: str, language: str, name: str) -> Path | None:
        """The recording a prompt URL names, or None when there is none (or the name is not one)."""
        if not all(_PART.fullmatch(p) for p in (questionnaire_id, language, name)) or not name.endswith(".wav"):
            return None
        path = self.prompts_dir / questionnaire_id / language / name
        return path if path.is_file() else None
