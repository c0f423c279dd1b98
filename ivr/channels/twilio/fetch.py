"""Bringing Twilio's recordings home: download, check, store beside the others, delete at Twilio.

Each pending recording (``calls.recordings``) is fetched from the account's Recording resource,
``GET {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.wav``, with the
account's credentials (HTTP Basic). The URL is built from the configured base and the RecordingSid,
never taken from a webhook, so the credentials go to the configured API only. The file must be a
WAV (or, from a provider that answers so, an MP3) of the length Twilio reported
(:mod:`ivr.channels.recording_audio`); it is written to ``recordings_dir/twilio/{Sid}.wav`` (``.mp3``), in
full or not at all, and its row says so. A failure (a
timeout, an error answer, a file that does not check) is counted and tried again later; after the
last attempt the row is ``failed``, shown to the administrator.

Then the copy at Twilio is deleted, ``DELETE .../Recordings/{Sid}.json`` (204; a 404 means it is
gone already), as ``MINYI_RECORDING_DELETION`` says: ``after_download`` (the default),
``after_days:N`` or ``never``. A deletion that fails is tried again at the next pass.

The network is never used inside a database transaction.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from calls import recordings
from ivr.channels import recordings_home as home
from ivr.channels.recording_audio import AudioRejected, audio_seconds
from ivr.channels.recordings_home import Due, FetchReport
from ivr.channels.twilio.rest import api_base
from survey.clock import Clock
from survey.config import Settings
from survey.transactions import run_transaction

log = logging.getLogger(__name__)

FOLDER = "twilio"  # inside recordings_dir
_SID = re.compile(r"RE[0-9a-fA-F]{32}")
_ACCOUNT = re.compile(r"AC[0-9a-fA-F]{32}")


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
        due = run_transaction(self.sessions, lambda s: [
            Due.of(r) for r in recordings.claim_due(s, self.clock.now(), limit, sources=recordings.HTTP)])
        for item in due:
            self._bring_home(item, report)
        for item in run_transaction(self.sessions, lambda s: [Due.of(r) for r in recordings.to_delete(
                s, self.clock.now(), self.settings.recording_deletion, limit, sources=recordings.HTTP)]):
            self._delete(item, report)
        return report

    # -- download --------------------------------------------------------------------------

    def _bring_home(self, item: Due, report: FetchReport) -> None:
        try:
            path = self._download(item)
        except (httpx.HTTPError, AudioRejected, OSError) as exc:
            error = _describe(exc)
            log.warning("recording %s: download failed: %s", item.provider_id, error)
            last = run_transaction(self.sessions, lambda s: home.mark_failed(s, item.id, error, self.clock))
            (report.failed if last else report.retrying).append(f"{item.provider_id}: {error}")
            return
        if run_transaction(self.sessions, lambda s: home.mark_stored(s, item.id, path, self.clock)):
            report.stored += 1

    def _download(self, item: Due) -> str:
        """The recording's file, checked and written; its path inside recordings_dir."""
        sid = item.provider_id
        if not _SID.fullmatch(sid):
            raise AudioRejected(f"{sid!r} is not a Twilio RecordingSid")
        response = self.http.get(f"{self.resource}/Recordings/{sid}.wav")
        response.raise_for_status()
        kind = audio_seconds(response.content, item.seconds)[0]
        relative = f"{FOLDER}/{sid}.{kind}"
        home.write_whole(self.folder / relative, response.content)
        return relative

    # -- deletion at Twilio ----------------------------------------------------------------

    def _delete(self, item: Due, report: FetchReport) -> None:
        try:
            response = self.http.delete(f"{self.resource}/Recordings/{item.provider_id}.json")
            if response.status_code != httpx.codes.NOT_FOUND:  # gone already: as good as deleted
                response.raise_for_status()
        except httpx.HTTPError as exc:
            error = f"deletion at Twilio failed: {_describe(exc)}"
            log.warning("recording %s: %s", item.provider_id, error)
            report.not_deleted.append(f"{item.provider_id}: {error}")
            run_transaction(self.sessions, lambda s: home.note_error(s, item.id, error))
            return
        run_transaction(self.sessions, lambda s: home.mark_deleted(s, item.id, self.clock))
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
