"""Bringing Asterisk's recordings home: copy, check, store beside the others, delete at Asterisk.

Asterisk keeps a voice answer it recorded among its stored recordings; the interview keeps it as a
download pending from ``ari://{server}/{name}`` (:mod:`calls.recordings`), the server being the
Asterisk that recorded it (``host:port`` of its ARI_URL). Each copier takes only its own server's
recordings (and those that name none): with several Asterisk servers, a recording is fetched from
the one that holds it, never asked of another. When the call ends its runner
copies the call's recordings at once, ``GET /recordings/stored/{name}/file``; the app tries again,
every ``Timing.recordings_pass_s``, those whose copy failed (Asterisk out of reach, the file not
there, a file that does not check), on the schedule of Twilio's downloads (1, 5, 30 minutes, 2 and
6 hours), after which the row is ``failed`` for an administrator to send back.

The file must be a WAV of the length Asterisk reported (:mod:`ivr.channels.recording_audio`); it is
written to ``recordings_dir/asterisk/{name}.wav``, whole or not at all. Then the copy in Asterisk
is deleted, ``DELETE /recordings/stored/{name}`` (a 404 means it is gone already), as
``MINYI_RECORDING_DELETION`` says; a deletion that fails is tried again at the next pass. A
recording that does not check is never deleted.

The network is never used inside a database transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio
from sqlalchemy.orm import Session, sessionmaker

from calls import recordings
from ivr.channels import recordings_home as home
from ivr.channels.asterisk.ari import AriError, AriSession, AriUnavailable
from ivr.channels.recording_audio import AudioRejected, audio_seconds
from ivr.channels.recordings_home import Due, FetchReport
from survey.clock import Clock
from survey.transactions import run_transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

FOLDER = "asterisk"  # inside recordings_dir
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # a recording name that is a safe file name


class RecordingCopier:
    """Copies the recordings stored in the Asterisk ``server`` (``host:port``,
    :func:`calls.recordings.ari_server`) into ``folder`` (recordings_dir) and deletes them there by
    ``policy`` (``recording_deletion``); other servers' recordings are left to theirs."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, folder: Path, policy: str, server: str) -> None:
        self.sessions, self.clock, self.folder, self.policy = sessions, clock, folder, policy
        self.sources = recordings.ari_sources(server)

    async def run(self, ari: AriSession, names: Sequence[str] | None = None, limit: int = 50) -> FetchReport:
        """One pass: the recordings ``names`` (a call's own, just finished) or, without names, up
        to ``limit`` due to be tried again; then up to ``limit`` deletions due at Asterisk."""
        report = FetchReport()
        due = await self._db(lambda s: [Due.of(r) for r in recordings.claim_due(
            s, self.clock.now(), limit, sources=self.sources, provider_ids=names)])
        for item in due:
            await self._bring_home(ari, item, report)
        for item in await self._db(lambda s: [Due.of(r) for r in recordings.to_delete(
                s, self.clock.now(), self.policy, limit, sources=self.sources)]):
            await self._delete(ari, item, report)
        return report

    async def _bring_home(self, ari: AriSession, item: Due, report: FetchReport) -> None:
        name = item.provider_id
        try:
            path = await self._copy(ari, item)
        except (AriError, AriUnavailable, AudioRejected, OSError) as exc:
            error = f"copy from Asterisk failed: {exc}"
            log.warning("recording %s: %s", name, error)
            last = await self._db(lambda s: home.mark_failed(s, item.id, error, self.clock))
            (report.failed if last else report.retrying).append(f"{name}: {error}")
            return
        if await self._db(lambda s: home.mark_stored(s, item.id, path, self.clock)):
            report.stored += 1

    async def _copy(self, ari: AriSession, item: Due) -> str:
        """The recording's file, checked and written; its path inside recordings_dir."""
        if not _NAME.fullmatch(item.provider_id):
            raise AudioRejected(f"{item.provider_id!r} is not a recording name this app gives")
        data = await ari.recording_file(item.provider_id)
        if audio_seconds(data, item.seconds)[0] != "wav":
            raise AudioRejected("not a WAV file, the format this app records in")
        relative = f"{FOLDER}/{item.provider_id}.wav"
        await anyio.to_thread.run_sync(home.write_whole, self.folder / relative, data)
        return relative

    async def _delete(self, ari: AriSession, item: Due, report: FetchReport) -> None:
        try:
            await ari.delete_stored_recording(item.provider_id)
        except (AriError, AriUnavailable) as exc:
            if not (isinstance(exc, AriError) and exc.status == 404):  # gone already: as good as deleted
                error = f"deletion at Asterisk failed: {exc}"
                log.warning("recording %s: %s", item.provider_id, error)
                report.not_deleted.append(f"{item.provider_id}: {error}")
                await self._db(lambda s: home.note_error(s, item.id, error))
                return
        await self._db(lambda s: home.mark_deleted(s, item.id, self.clock))
        report.deleted += 1

    async def _db(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(run_transaction, self.sessions, work)
