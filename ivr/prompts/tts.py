"""Offline speech synthesis (espeak-ng) and telephony audio (sox: 8 kHz, mono, 16-bit, normalised).

Mandarin goes to espeak-ng's ``cmn-latn-pinyin`` voice, which reads Chinese characters with their
tones (the plain ``cmn`` voice reads the tone numbers aloud as English digits). A text that mixes
scripts, like the language menu "普通话请按1。For English, press 2.", is cut into runs of one script
and each run is spoken by its own voice; digits and punctuation go with the run they are in.

Every file is cached under a name made from its inputs, written atomically, so several workers can
share one cache and a changed text never plays stale audio.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}
SPEED_WPM = {"zh": 150, "en": 150}
SAMPLE_RATE = 8000
TOOLS = ("espeak-ng", "sox")
PIPELINE = "espeak-ng/sox v1"  # part of every cache key: change it when the rendering changes


class AudioToolMissing(RuntimeError):
    """espeak-ng or sox is not installed."""


class SynthesisError(RuntimeError):
    """espeak-ng or sox failed on an input; the message has their error output."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def script_runs(text: str, language: str) -> list[tuple[str, str]]:
    """``text`` cut into (language, run) pieces by script: Chinese characters and punctuation are
    ``zh``, Latin letters ``en``; digits, spaces and ASCII punctuation join the run they are in (or
    the next one at the start). A text with no letters at all is spoken in ``language``."""
    runs: list[tuple[str, str]] = []
    current: str | None = None
    buffer = ""
    for ch in text:
        script = _script(ch)
        if script is not None and current is not None and script != current:
            runs.append((current, buffer))
            buffer = ""
        if script is not None:
            current = script
        buffer += ch
    runs.append((current or language, buffer))
    return [(lang, run.strip()) for lang, run in runs if any(c.isalnum() for c in run)]


def _script(ch: str) -> str | None:
    code = ord(ch)
    if 0x3400 <= code <= 0x9FFF or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
        return "zh"
    if ch.isascii() and ch.isalpha():
        return "en"
    return None


class AudioTools:
    """Renders text to telephony WAV files, and makes telephony copies of recorded files, in ``cache``."""

    def __init__(self, cache: Path) -> None:
        missing = missing_tools()
        if missing:
            raise AudioToolMissing(f"{' and '.join(missing)} not found: prompt audio needs them "
                                   f"(Debian: apt-get install -y {' '.join(TOOLS)})")
        self.cache = cache

    def speak(self, text: str, language: str) -> Path:
        """A telephony WAV of ``text`` read in ``language`` (cached by text, voice and pipeline)."""
        runs = script_runs(text, language)
        if not runs:
            raise SynthesisError(f"nothing to say in {text!r}")
        key = _digest(PIPELINE, *(f"{VOICES[lang]}:{SPEED_WPM[lang]}:{run}" for lang, run in runs))
        return self._cached(key, lambda work: self._speak_runs(runs, work))

    def telephony_copy(self, recording: Path) -> Path:
        """``recording`` as 8 kHz mono 16-bit normalised WAV (cached by the file's content)."""
        key = _digest(PIPELINE, "recorded", hashlib.sha256(recording.read_bytes()).hexdigest())
        return self._cached(key, lambda work: [recording])

    def _speak_runs(self, runs: list[tuple[str, str]], work: Path) -> list[Path]:
        parts = []
        for i, (lang, run) in enumerate(runs):
            part = work / f"run{i}.wav"
            _run(["espeak-ng", "-v", VOICES[lang], "-s", str(SPEED_WPM[lang]), "-w", str(part), "--stdin"],
                 stdin=run)
            parts.append(part)
        return parts

    def _cached(self, key: str, sources: Callable[[Path], list[Path]]) -> Path:
        target = self.cache / key[:2] / f"{key}.wav"
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            work = Path(tmp)
            inputs = sources(work)
            out = work / "out.wav"
            _run(["sox", *map(str, inputs), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                  str(out), "norm", "-1"])
            os.replace(out, target)  # atomic: a reader never sees half a file
        return target


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _run(command: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise SynthesisError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
