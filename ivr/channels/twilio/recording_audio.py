"""Checking a downloaded recording before it is kept: a WAV file (Twilio's ``.wav`` media: PCM,
8 kHz, mono or dual channel) of a plausible length, the length Twilio reported give or take
rounding (Twilio's ``RecordingDuration`` is whole seconds)."""

from __future__ import annotations

import io
import wave

TOLERANCE_S = 1.5  # whole seconds rounded either way, and the beep
TOLERANCE_SHARE = 0.05
LONGEST_S = 4 * 3600.0  # Twilio's own limit on a recording


class AudioRejected(ValueError):
    """The downloaded file is not the recording it should be; the message says how."""


def wav_seconds(data: bytes, expected_s: float) -> float:
    """The length of the WAV ``data`` in seconds, if it is one and matches ``expected_s`` (0:
    unknown); else :class:`AudioRejected`."""
    if not data.startswith(b"RIFF") or data[8:12] != b"WAVE":
        raise AudioRejected(f"not a WAV file (it begins {data[:12]!r}, {len(data)} bytes)")
    try:
        with wave.open(io.BytesIO(data)) as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError) as exc:
        raise AudioRejected(f"an unreadable WAV file: {exc}") from None
    seconds = frames / rate if rate else 0.0
    if not 0 < seconds <= LONGEST_S:
        raise AudioRejected(f"a WAV file of implausible length ({seconds:.1f} s)")
    if expected_s > 0 and abs(seconds - expected_s) > TOLERANCE_S + TOLERANCE_SHARE * expected_s:
        raise AudioRejected(f"a WAV file of {seconds:.1f} s where Twilio reported {expected_s:.0f} s")
    return seconds
