"""Checking a recording brought home before it is kept: a WAV file (Twilio's ``.wav`` media: PCM,
8 kHz, mono or dual channel; Asterisk's ``wav`` format) or an MP3 (Twilio's ``.mp3``, constant bit
rate), of a plausible length, the length the provider reported give or take rounding (Twilio's
``RecordingDuration`` is whole seconds)."""

from __future__ import annotations

import io
import wave

TOLERANCE_S = 1.5  # whole seconds rounded either way, and the beep
TOLERANCE_SHARE = 0.05
LONGEST_S = 4 * 3600.0  # Twilio's own limit on a recording
# kbit/s of MPEG layer III by bit-rate index: MPEG-1, and MPEG-2 / 2.5 (index 0 "free" and 15 are not used)
_MP3_KBPS = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}


class AudioRejected(ValueError):
    """The downloaded file is not the recording it should be; the message says how."""


def audio_seconds(data: bytes, expected_s: float) -> tuple[str, float]:
    """The kind (``wav`` or ``mp3``, the file's extension) and length in seconds of ``data``, if
    it is a recording matching ``expected_s`` (0: unknown); else :class:`AudioRejected`."""
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        kind, seconds = "wav", _wav_seconds(data)
    elif data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xe3", b"\xff\xfa", b"\xff\xf2"):
        kind, seconds = "mp3", _mp3_seconds(data)
    else:
        raise AudioRejected(f"neither a WAV nor an MP3 file (it begins {data[:12]!r}, {len(data)} bytes)")
    named = "a WAV" if kind == "wav" else "an MP3"
    if not 0 < seconds <= LONGEST_S:
        raise AudioRejected(f"{named} file of implausible length ({seconds:.1f} s)")
    if expected_s > 0 and abs(seconds - expected_s) > TOLERANCE_S + TOLERANCE_SHARE * expected_s:
        raise AudioRejected(f"{named} file of {seconds:.1f} s where Twilio reported {expected_s:.0f} s")
    return kind, seconds


def _wav_seconds(data: bytes) -> float:
    try:
        with wave.open(io.BytesIO(data)) as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError) as exc:
        raise AudioRejected(f"an unreadable WAV file: {exc}") from None
    return frames / rate if rate else 0.0


def _mp3_seconds(data: bytes) -> float:
    """The length of a constant-bit-rate MP3 from its first frame's bit rate (after an ID3v2 tag)."""
    start = 0
    if data.startswith(b"ID3") and len(data) >= 10:
        size = data[6:10]
        start = 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3])
    header = data[start:start + 4]
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0 or (header[1] >> 1) & 3 != 1:
        raise AudioRejected("an MP3 file without a layer III frame where its audio should begin")
    version = 3 if (header[1] >> 3) & 3 == 3 else 2
    index = header[2] >> 4
    if not 0 < index < 15:
        raise AudioRejected(f"an MP3 file with a bit rate it does not say (index {index})")
    return (len(data) - start) * 8 / (_MP3_KBPS[version][index] * 1000)
