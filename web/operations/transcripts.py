"""Transcribing recorded open answers, and playing them back safely."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from office.concerns import CATEGORIES
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Recording


class TranscriptError(Refused):
    pass


def save_transcription(session: Session, recording: Recording, clock: Clock, *, text: str, category: str,
                       user_id: int) -> None:
    """Store the transcription and category (audited: a transcription is an answer)."""
    if category and category not in CATEGORIES:
        raise TranscriptError("unknown category %(category)r", category=category)
    before = {"transcription": recording.transcription, "category": recording.category}
    recording.transcription = text.strip() or None
    recording.category = category or None
    recording.transcribed_by, recording.transcribed_at = user_id, clock.now()
    old, new = audit.changed(before, {"transcription": recording.transcription, "category": recording.category})
    if new:
        audit.record(session, clock, user_id=user_id, action="transcription_saved", entity="recording",
                     entity_id=recording.id, before=old, after=new)
    session.flush()


def audio_path(recordings_dir: str, recording: Recording) -> Path | None:
    """The recording's file inside ``recordings_dir``; None when it is missing or the stored path
    would lead outside the directory (``..``, an absolute path elsewhere, a symlink out)."""
    base = Path(recordings_dir).resolve()
    try:
        target = (base / recording.path).resolve()
    except (OSError, ValueError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target
