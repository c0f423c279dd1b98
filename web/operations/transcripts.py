"""Transcribing recorded open answers, and playing them back safely."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from calls.recordings import ARI, SIMULATED
from office.concerns import CATEGORIES
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import CallAttempt, Case, Interview, Recording
from survey.vocabulary import RecordingDownload


class TranscriptError(Refused):
    pass


def with_case() -> tuple[LoaderOption, ...]:
    """Loads what a list of recordings shows of each one's case (:attr:`Recording.case`): through
    the interview, or the call attempt of a call recorded without one."""
    return (joinedload(Recording.interview).joinedload(Interview.case).joinedload(Case.stratum),
            joinedload(Recording.attempt).joinedload(CallAttempt.case).joinedload(Case.stratum))


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
    """The recording's file inside ``recordings_dir``; None when it is not there (yet), or the
    stored path would lead outside the directory (``..``, an absolute path elsewhere, a symlink
    out). A path is relative to the directory (Twilio's downloads) or, as the Asterisk channel
    stores it, already names the directory (``recordings/name.wav``, or an absolute path)."""
    if not recording.path or recording.download_status in (RecordingDownload.PENDING, RecordingDownload.FAILED):
        return None
    base = Path(recordings_dir).resolve()
    for candidate in (base / recording.path, Path(recording.path)):
        try:
            target = candidate.resolve()
        except (OSError, ValueError):
            continue
        if target.is_relative_to(base) and target.is_file():
            return target
    return None


def provider_name(recording: Recording) -> str:
    """The provider that keeps (or kept) the recording before it came home, by name: Asterisk or Twilio."""
    return "Asterisk" if (recording.remote_url or "").startswith(ARI) else "Twilio"


def audio_state(recordings_dir: str, recording: Recording) -> str:
    """What the player can do with the recording: ``play``; ``pending`` or ``failed`` (still at
    its provider: on its way, or every attempt failed); ``simulated`` (a simulated call has no audio);
    ``missing`` (the file is not on this server)."""
    if recording.download_status in (RecordingDownload.PENDING, RecordingDownload.FAILED):
        return recording.download_status
    if recording.path.startswith(SIMULATED):
        return "simulated"
    return "play" if audio_path(recordings_dir, recording) is not None else "missing"
