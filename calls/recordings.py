"""A call's recordings: kept once per provider id, and those still at the provider brought home.

A recording belongs to the call attempt that made it and, when the call opened one, to its
interview (a whole call recorded by the provider may end before any interview opens).

A recording the channel stored itself (simulated) is a row with its ``path`` under
``recordings_dir``. A recording still at its provider is a row "pending download" with where the
provider keeps it in ``remote_url`` and no path yet: Twilio's media URL (``https://…``), or
``ari://{host}:{port}/{name}`` for a recording stored in the Asterisk whose ARI is at that address
(``ari:{name}``, written before several Asterisk servers were supported, names none: any
Asterisk's fetcher may take it). The provider's fetcher
(``ivr.channels.twilio.fetch``, ``ivr.channels.asterisk.recordings``) claims the rows of its own
``sources``, brings them home, checks and stores them beside the others, recording its progress
here: each failure is tried again later (``RETRY_DELAYS``), and after the last one the row is
``failed`` until an administrator tries again. Once stored, the provider's copy is deleted as the
deletion policy (``recording_deletion``) says.

The provider id (Twilio's RecordingSid, Asterisk's recording name) is unique: a recording delivered
twice, or a provider id reused by another call, adds no second row and fails nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection, Table, and_, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from survey import audit
from survey.clock import Clock
from survey.models import Interview, Recording
from survey.vocabulary import RecordingDownload

log = logging.getLogger(__name__)

_recordings = cast(Table, Recording.__table__)
# skipping a row whose provider id is stored already; RETURNING says which were inserted
_INSERT = {"sqlite": sqlite.insert(_recordings).on_conflict_do_nothing().returning(_recordings.c.id),
           "postgresql": postgresql.insert(_recordings).on_conflict_do_nothing().returning(_recordings.c.id)}
HTTP = ("http://", "https://")  # a provider's media URL (Twilio)
ARI = "ari:"  # a recording stored in Asterisk, fetched over ARI: ari://host:port/<name> (or ari:<name>)
_ARI_SERVER = "ari://"
REMOTE = (*HTTP, ARI)
WHOLE_CALL = "call"  # the question_id of a whole call's recording
SIMULATED = "simulated://"  # the path of a simulated call's recording: there is no audio
# Between a failed download and the next try; one attempt more than delays, then "failed".
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=6))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A recording announced by the call before its provider finished writing the file (Twilio's
# <Record> action) is first tried this much later; the provider's "completed" callback brings it forward.
SETTLE = timedelta(seconds=30)
CLAIM = timedelta(minutes=10)  # a fetcher's hold on the downloads it took (longer than a pass)


def ari_server(ari_url: str) -> str:
    """The Asterisk server an ARI URL reaches, as recordings name it: ``host:port``."""
    parts = urlsplit(ari_url)
    if not parts.hostname:
        raise ValueError(f"ARI URL must be http(s)://host:port, not {ari_url!r}")
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def ari_ref(server: str, name: str) -> str:
    """Where a recording Asterisk ``server`` (:func:`ari_server`) stored as ``name`` is kept."""
    return f"{_ARI_SERVER}{server}/{name}"


def ari_sources(server: str) -> tuple[str, ...]:
    """The ``sources`` an Asterisk's fetcher takes: its own recordings, and those that name no server."""
    return (ari_ref(server, ""), ARI)


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE)


def recording_row(interview_id: int | None, question_id: str, path: str, provider_id: str | None, seconds: float,
                  now: datetime, *, attempt_id: int | None, settled: bool = False,
                  staff_call_id: int | None = None) -> dict[str, Any]:
    """The columns of a new recording: stored already, or (``REMOTE``) pending download. A staff
    call's quality-control recording names its ``staff_call_id`` (and an interview only if one was open)."""
    row: dict[str, Any] = {"interview_id": interview_id, "attempt_id": attempt_id, "question_id": question_id,
                           "provider_id": provider_id, "staff_call_id": staff_call_id,
                           "duration_s": seconds, "created_at": now, "path": path, "download_attempts": 0,
                           "remote_url": None, "download_status": None, "next_attempt_at": None}
    if is_remote(path):
        row.update(path="", remote_url=path, download_status=RecordingDownload.PENDING,
                   next_attempt_at=now if settled else now + SETTLE)
    return row


def insert_recordings(db: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows, skipping any whose provider id is stored already (a replay, or an id reused
    by another call: logged, harmless). Returns how many were inserted."""
    if not rows:
        return 0
    added = len(db.execute(_INSERT[db.dialect.name], list(rows)).scalars().all())
    if added < len(rows):
        log.warning("%d recording(s) not stored again: their provider id is stored already (%s)",
                    len(rows) - added, ", ".join(str(r["provider_id"]) for r in rows))
    return added


def whole_call(session: Session, attempt_id: int, path: str, provider_id: str, seconds: float,
               now: datetime) -> None:
    """A whole call recorded by the provider: kept with its call attempt, and with the interview
    the call opened or resumed if there is one (a call may end before any interview opens)."""
    interview_id = session.scalar(select(Interview.id).where(Interview.last_attempt_id == attempt_id)
                                  .order_by(Interview.id.desc()).limit(1))
    insert_recordings(session.connection(), [recording_row(interview_id, WHOLE_CALL, path, provider_id, seconds, now,
                                                           attempt_id=attempt_id, settled=True)])


def completed(session: Session, provider_id: str, url: str, seconds: float, now: datetime) -> Recording | None:
    """The provider says the recording ``provider_id`` is complete: a pending download is due now,
    with the provider's final URL and length. None when there is no such row yet."""
    row = session.scalar(select(Recording).where(Recording.provider_id == provider_id))
    if row is None:
        return None
    row.duration_s = seconds
    if row.download_status == RecordingDownload.PENDING:
        row.remote_url = url
        row.next_attempt_at = min(row.next_attempt_at or now, now)
    return row


def lost(session: Session, provider_id: str, error: str) -> None:
    """The provider says the recording failed: a pending download of it is failed at once (there
    is no file to wait for)."""
    row = session.scalar(select(Recording).where(Recording.provider_id == provider_id))
    if row is not None and row.download_status == RecordingDownload.PENDING:
        row.download_status, row.next_attempt_at, row.last_error = RecordingDownload.FAILED, None, error


def _from(sources: Sequence[str]) -> ColumnElement[bool]:
    """Rows kept (or first kept) at the provider whose ``remote_url`` begins with one of ``sources``
    (:data:`ARI` alone: the Asterisk recordings that name no server)."""
    return or_(*(Recording.remote_url.startswith(source, autoescape=True) if source != ARI else
                 and_(Recording.remote_url.startswith(ARI), not_(Recording.remote_url.startswith(_ARI_SERVER)))
                 for source in sources))


def claim_due(session: Session, now: datetime, limit: int, *, sources: Sequence[str],
              provider_ids: Sequence[str] | None = None) -> list[Recording]:
    """Pending downloads from ``sources`` whose time has come, oldest first, claimed for ``CLAIM``:
    another fetcher (a second dialer worker, the command line) skips them meanwhile, and a fetcher
    that dies leaves them due again when the claim runs out. With ``provider_ids``: those
    recordings, pending, whatever their time (a call's own recordings, just finished)."""
    due = (Recording.provider_id.in_(provider_ids) if provider_ids is not None
           else Recording.next_attempt_at <= now)
    rows = list(session.scalars(select(Recording)
                                .where(Recording.download_status == RecordingDownload.PENDING, _from(sources), due)
                                .order_by(Recording.next_attempt_at, Recording.id).limit(limit)
                                .with_for_update(skip_locked=True)))
    for row in rows:
        row.next_attempt_at = now + CLAIM
    return rows


def stored(row: Recording, path: str, now: datetime) -> None:
    """The download is home, checked, at ``path`` (relative to recordings_dir)."""
    row.path, row.download_status, row.downloaded_at = path, RecordingDownload.STORED, now
    row.download_attempts += 1
    row.next_attempt_at, row.last_error = None, None


def attempt_failed(row: Recording, error: str, now: datetime) -> bool:
    """Count a failed download and schedule the next; True when that was the last attempt."""
    row.download_attempts += 1
    row.last_error = error[:2000]
    if row.download_attempts >= MAX_ATTEMPTS:
        row.download_status, row.next_attempt_at = RecordingDownload.FAILED, None
        return True
    row.next_attempt_at = now + RETRY_DELAYS[row.download_attempts - 1]
    return False


def try_again(session: Session, row: Recording, clock: Clock, *, user_id: int) -> None:
    """An administrator sends a failed (or waiting) download back to the fetcher, due at once,
    with its attempts counted from nought (audited)."""
    if row.download_status not in (RecordingDownload.PENDING, RecordingDownload.FAILED):
        return
    before = {"download_status": row.download_status, "download_attempts": row.download_attempts}
    row.download_status, row.download_attempts = RecordingDownload.PENDING, 0
    row.next_attempt_at = clock.now()
    audit.record(session, clock, user_id=user_id, action="recording_download_retried", entity="recording",
                 entity_id=row.id, before=before,
                 after={"download_status": row.download_status, "download_attempts": 0})
    session.flush()


def deletion_delay(policy: str) -> timedelta | None:
    """``recording_deletion`` (checked by the settings) as the time from download to deletion at
    the provider; None: never."""
    if policy == "never":
        return None
    if policy == "after_download":
        return timedelta(0)
    return timedelta(days=int(policy.partition(":")[2]))


def to_delete(session: Session, now: datetime, policy: str, limit: int, *, sources: Sequence[str]) -> list[Recording]:
    """Recordings brought home from ``sources`` whose provider copy is due for deletion under ``policy``."""
    delay = deletion_delay(policy)
    if delay is None:
        return []
    return list(session.scalars(select(Recording)
                                .where(Recording.download_status == RecordingDownload.STORED, _from(sources),
                                       Recording.provider_deleted_at.is_(None),
                                       Recording.downloaded_at <= now - delay)
                                .order_by(Recording.downloaded_at, Recording.id).limit(limit)))
