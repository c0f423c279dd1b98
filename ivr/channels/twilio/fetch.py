"""Bringing Twilio's recordings home: download, check, store beside the others, delete at Twilio.

Each pending recording (``calls.recordings``) is fetched from the account's Recording resource,
``GET {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.wav``, with the
account's credentials (HTTP Basic). The URL is built from the configured base and the RecordingSid,
never taken from a webhook, so the credentials go to the configured API only. The file must be a
WAV (or, from a provider that answers so, an MP3) of the length Twilio reported
(:mod:`.recording_audio`); it is written to ``recordings_dir/twilio/{Sid}.wav`` (``.mp3``), in
full or not at all, and its row says so. A failure (a
timeout, an error answer, a file that does not check) is counted and tried again later; after the
last attempt the row is ``failed``, shown to the administrator.

Then the copy at Twilio is deleted, ``DELETE .../Recordings/{Sid}.json`` (204; a 404 means it is
gone already), as ``TWILIO_RECORDING_DELETION`` says: ``after_download`` (the default),
``after_days:N`` or ``never``. A deletion that fails is tried again at the next pass.

The network is never used inside a database transaction.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from calls import recordings
from ivr.channels.twilio.recording_audio import AudioRejected, audio_seconds
from ivr.channels.twilio.rest import api_base
from survey.clock import Clock
from survey.config import Settings
from survey.models import Recording
from survey.transactions import run_transaction
from survey.vocabulary import RecordingDownload

log = logging.getLogger(__name__)

FOLDER = "twilio"  # inside recordings_dir
_SID = re.compile(r"RE[0-9a-fA-F]{32}")
_ACCOUNT = re.compile(r"AC[0-9a-fA-F]{32}")


@dataclass
class FetchReport:
    """What one pass did: recordings stored, failed for good, to be tried again; copies deleted."""

    stored: int = 0
    retrying: list[str] = field(default_factory=list)  # "RE…: why"
    failed: list[str] = field(default_factory=list)
    deleted: int = 0
    not_deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Due:
    id: int
    sid: str
    seconds: float


class RecordingFetcher:
    """``transport`` replaces the network (tests: ``httpx.MockTransport``)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock, *,
                 transport: httpx.BaseTransport | None = None, timeout_s: float = 30.0) -> None:
        if not _ACCOUNT.fullmatch(settings.twilio_account_sid) or not settings.twilio_auth_token:
            raise ValueError("TWILIO_ACCOUNT_SID (AC + 32 hex digits) and TWILIO_AUTH_TOKEN must be set to "
                             "fetch Twilio's recordings")
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self.folder = Path(settings.recordings_dir)
        self.resource = f"{api_base(settings.twilio_api_base_url)}/2010-04-01/Accounts/{settings.twilio_account_sid}"
        self.http = httpx.Client(auth=(settings.twilio_account_sid, settings.twilio_auth_token), timeout=timeout_s,
                                 transport=transport, follow_redirects=True)

    def close(self) -> None:
        self.http.close()

    def run(self, limit: int = 50) -> FetchReport:
        """One pass: up to ``limit`` due downloads, then up to ``limit`` deletions due."""
        report = FetchReport()
        due = run_transaction(self.sessions, lambda s: [Due(r.id, r.provider_id or "", r.duration_s)
                                                        for r in recordings.claim_due(s, self.clock.now(), limit)])
        for item in due:
            self._bring_home(item, report)
        for item in run_transaction(self.sessions, lambda s: [
                Due(r.id, r.provider_id or "", r.duration_s)
                for r in recordings.to_delete(s, self.clock.now(), self.settings.twilio_recording_deletion, limit)]):
            self._delete(item, report)
        return report

    # -- download --------------------------------------------------------------------------

    def _bring_home(self, item: Due, report: FetchReport) -> None:
        try:
            path = self._download(item)
        except (httpx.HTTPError, AudioRejected, OSError) as exc:
            error = _describe(exc)
            log.warning("recording %s: download failed: %s", item.sid, error)
            last = run_transaction(self.sessions, lambda s: _failed(s, item.id, error, self.clock))
            (report.failed if last else report.retrying).append(f"{item.sid}: {error}")
            return
        if run_transaction(self.sessions, lambda s: _stored(s, item.id, path, self.clock)):
            report.stored += 1

    def _download(self, item: Due) -> str:
        """The recording's file, checked and written; its path inside recordings_dir."""
        if not _SID.fullmatch(item.sid):
            raise AudioRejected(f"{item.sid!r} is not a Twilio RecordingSid")
        response = self.http.get(f"{self.resource}/Recordings/{item.sid}.wav")
        response.raise_for_status()
        kind = audio_seconds(response.content, item.seconds)[0]
        relative = f"{FOLDER}/{item.sid}.{kind}"
        _write(self.folder / relative, response.content)
        return relative

    # -- deletion at Twilio ----------------------------------------------------------------

    def _delete(self, item: Due, report: FetchReport) -> None:
        try:
            response = self.http.delete(f"{self.resource}/Recordings/{item.sid}.json")
            if response.status_code != httpx.codes.NOT_FOUND:  # gone already: as good as deleted
                response.raise_for_status()
        except httpx.HTTPError as exc:
            error = f"deletion at Twilio failed: {_describe(exc)}"
            log.warning("recording %s: %s", item.sid, error)
            report.not_deleted.append(f"{item.sid}: {error}")
            run_transaction(self.sessions, lambda s: _note(s, item.id, error))
            return
        run_transaction(self.sessions, lambda s: _deleted(s, item.id, self.clock))
        report.deleted += 1


class BackgroundFetch:
    """Passes of a fetcher in a thread of their own, one at a time, so that the dialer's
    housekeeping never waits for Twilio's media. A pass that fails is logged; the next tries again."""

    def __init__(self, make: Callable[[], RecordingFetcher]) -> None:
        self.make = make
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """A pass, unless the last one is still going."""
        if self.thread is not None and self.thread.is_alive():
            return
        self.thread = threading.Thread(target=self._pass, name="twilio-recordings", daemon=True)
        self.thread.start()

    def _pass(self) -> None:
        try:
            fetcher = self.make()
            try:
                report = fetcher.run()
            finally:
                fetcher.close()
        except Exception:  # a background thread has no caller to tell: the log is where it shows
            log.exception("bringing Twilio's recordings home failed")
            return
        if report.stored or report.deleted or report.failed:
            log.info("Twilio recordings: %d stored, %d deleted at Twilio, %d failed for good, %d to try again",
                     report.stored, report.deleted, len(report.failed), len(report.retrying))


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"Twilio answered {exc.response.status_code} {exc.response.reason_phrase}"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer from Twilio in time"
    if isinstance(exc, httpx.HTTPError):
        return f"Twilio could not be reached: {exc}"
    return str(exc)


def _write(path: Path, data: bytes) -> None:
    """Write the whole file or none of it (a partial file is never left under its name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


def _pending(s: Session, recording_id: int) -> Recording | None:
    """The row, if it is still waiting for its download (an administrator may have acted meanwhile)."""
    row = s.get(Recording, recording_id)
    return row if row is not None and row.download_status == RecordingDownload.PENDING else None


def _stored(s: Session, recording_id: int, path: str, clock: Clock) -> bool:
    row = _pending(s, recording_id)
    if row is not None:
        recordings.stored(row, path, clock.now())
    return row is not None


def _failed(s: Session, recording_id: int, error: str, clock: Clock) -> bool:
    row = _pending(s, recording_id)
    return row is not None and recordings.attempt_failed(row, error, clock.now())


def _deleted(s: Session, recording_id: int, clock: Clock) -> None:
    row = s.get(Recording, recording_id)
    if row is not None:
        row.provider_deleted_at, row.last_error = clock.now(), None


def _note(s: Session, recording_id: int, error: str) -> None:
    row = s.get(Recording, recording_id)
    if row is not None:
        row.last_error = error
