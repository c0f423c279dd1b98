"""Playing a recording from the web app as staff do, whatever channel made it: a transcriber
(limited to some townships, or not) logs in, opens the recording's page and plays its audio.

For the channel tests (``tests/asterisk``, ``tests/twilio``, the simulation): the web app on the
same database and recordings directory the channel wrote to."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.append(str(Path(__file__).parent / "web"))
from web_support import Client  # noqa: E402

from office import users  # noqa: E402
from survey.clock import Clock  # noqa: E402
from survey.config import Settings  # noqa: E402
from survey.db import session_scope  # noqa: E402
from survey.models import AuditLog  # noqa: E402
from survey.vocabulary import Role  # noqa: E402
from web import create_app  # noqa: E402

PASSWORD = "listen-carefully-2026"


def staff(settings: Settings, sessions: sessionmaker[Session], clock: Clock, *,
          townships: Sequence[str] | None = None, role: str = Role.TRANSCRIBER) -> tuple[Client, int]:
    """A logged-in client of a new staff member, and the member's user id."""
    name = f"listener_{uuid.uuid4().hex[:8]}"
    with session_scope(sessions) as s:
        user_id = users.create_user(s, name, PASSWORD, role, clock, township_scope=townships).id
    app = create_app(replace(settings, secret_key="test-secret-for-playback"), sessions, clock,
                     analyse=_no_analysis)
    client = Client(app.test_client())
    assert client.login(name, PASSWORD).status_code == 302
    return client, user_id


def plays(client: Client, recording_id: int) -> bytes | None:
    """The audio the recording's page offers, as the browser's player would fetch it; None when
    the page offers no player (and the audio URL answers 404)."""
    page = client.text(f"/transcribe/{recording_id}")
    audio = client.get(f"/transcribe/{recording_id}/audio")
    if f'src="/transcribe/{recording_id}/audio"' not in page:
        assert audio.status_code == 404
        return None
    assert audio.status_code == 200, audio.status_code
    return audio.get_data()


def playbacks(sessions: sessionmaker[Session], recording_id: int) -> list[int | None]:
    """The users who played the recording, from the audit log."""
    with sessions() as s:
        return list(s.scalars(select(AuditLog.user_id).where(
            AuditLog.action == "download", AuditLog.entity == "recording",
            AuditLog.entity_id == str(recording_id)).order_by(AuditLog.id)))


def _no_analysis(*_args: object) -> object:
    raise AssertionError("playing recordings shows no dashboard")
