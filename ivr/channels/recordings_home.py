"""What the fetchers that bring recordings home share (Twilio's :mod:`ivr.channels.twilio.fetch`,
Asterisk's :mod:`ivr.channels.asterisk.recordings`): a pass's report, the file written whole or
not at all, and the short transactions that record a download's progress through
:mod:`calls.recordings`. The network is never used inside one of these transactions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from calls import recordings
from survey.clock import Clock
from survey.models import Recording
from survey.vocabulary import RecordingDownload


@dataclass
class FetchReport:
    """What one pass did: recordings stored, failed for good, to be tried again; copies deleted."""

    stored: int = 0
    retrying: list[str] = field(default_factory=list)  # "provider id: why"
    failed: list[str] = field(default_factory=list)
    deleted: int = 0
    not_deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Due:
    """A recording to bring home or to delete at its provider, read out of its transaction."""

    id: int
    provider_id: str
    seconds: float

    @classmethod
    def of(cls, row: Recording) -> Due:
        return cls(row.id, row.provider_id or "", row.duration_s)


def write_whole(path: Path, data: bytes) -> None:
    """Write the whole file or none of it (a partial file is never left under its name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


def _pending(s: Session, recording_id: int) -> Recording | None:
    """The row, if it is still waiting for its download (an administrator may have acted meanwhile)."""
    row = s.get(Recording, recording_id)
    return row if row is not None and row.download_status == RecordingDownload.PENDING else None


def mark_stored(s: Session, recording_id: int, path: str, clock: Clock) -> bool:
    """The download is home at ``path``; False when the row no longer waits for it."""
    row = _pending(s, recording_id)
    if row is not None:
        recordings.stored(row, path, clock.now())
    return row is not None


def mark_failed(s: Session, recording_id: int, error: str, clock: Clock) -> bool:
    """A failed attempt counted; True when it was the last (the row is failed)."""
    row = _pending(s, recording_id)
    return row is not None and recordings.attempt_failed(row, error, clock.now())


def mark_deleted(s: Session, recording_id: int, clock: Clock) -> None:
    row = s.get(Recording, recording_id)
    if row is not None:
        row.provider_deleted_at, row.last_error = clock.now(), None


def note_error(s: Session, recording_id: int, error: str) -> None:
    """A deletion at the provider failed: shown to the administrator, tried again at the next pass."""
    row = s.get(Recording, recording_id)
    if row is not None:
        row.last_error = error
