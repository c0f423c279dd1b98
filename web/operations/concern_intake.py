"""Concerns raised in the call centre: by an interviewer from a case, or by a transcriber from a
recording (one click: the transcription becomes the summary)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from office import concerns
from survey.clock import Clock
from survey.models import Case, Concern, Recording


def concern_from_case(session: Session, case: Case, clock: Clock, *, category: str, summary: str,
                      user_id: int) -> Concern:
    return concerns.receive(session, clock, survey_id=case.survey_id, stratum_id=case.stratum_id,
                            category=category, summary=summary, user_id=user_id, case_id=case.id)


def concern_from_recording(session: Session, recording: Recording, clock: Clock, *, user_id: int) -> Concern:
    """受理 from a transcribed recording, in its category; a recording gives at most one concern."""
    if not (recording.transcription or "").strip() or not recording.category:
        raise concerns.ConcernError("transcribe and categorise the recording first")
    if recording_concern(session, recording) is not None:
        raise concerns.ConcernError("this recording has already been turned into a concern")
    case = recording.case
    return concerns.receive(session, clock, survey_id=case.survey_id, stratum_id=case.stratum_id,
                            category=recording.category, summary=recording.transcription or "",
                            user_id=user_id, case_id=case.id, recording_id=recording.id)


def recording_concern(session: Session, recording: Recording) -> Concern | None:
    return session.scalars(select(Concern).where(Concern.recording_id == recording.id)).first()
