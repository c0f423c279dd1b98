"""``minyi recordings fetch``: bring the recordings at Twilio and in Asterisk home now (the dialer
and the ARI app also do it as they run), for a centre that records without dialling, or from cron."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from survey.config import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ivr.channels.recordings_home import FetchReport
    from survey.clock import Clock

PROVIDERS = ("twilio", "asterisk")


def recordings_fetch(
    limit: int = typer.Option(200, "--limit", min=1, help="Downloads (and deletions) at most, per provider."),
    provider: str = typer.Option("", "--provider", help="twilio or asterisk; without it, every configured one."),
) -> None:
    """Bring home the recordings due from Twilio and from Asterisk: check and store them, delete
    them at the provider by MINYI_RECORDING_DELETION. Prints one line of what it did; exits 1 when
    any failed (each is listed; they are tried again later)."""
    from survey.clock import SystemClock
    from survey.db import open_sessions

    settings = load_settings()
    chosen = _providers(settings, provider)
    sessions, clock = open_sessions(settings.database_url), SystemClock()
    passes = {"twilio": _twilio, "asterisk": _asterisk}
    reports = {name: passes[name](settings, sessions, clock, limit) for name in chosen}
    typer.echo("; ".join(f"{_LABEL[name]}: {r.stored} stored, {r.deleted} deleted" for name, r in reports.items()))
    failed = False
    for name, report in reports.items():
        for heading, lines in (("to try again later", report.retrying),
                               ("failed for good (see the web app's recording downloads)", report.failed),
                               ("not deleted", report.not_deleted)):
            if lines:
                failed = True
                typer.echo(f"{_LABEL[name]}, {len(lines)} {heading}:", err=True)
                for line in lines:
                    typer.echo(f"  {line}", err=True)
    if failed:
        raise typer.Exit(1)


_LABEL = {"twilio": "Twilio", "asterisk": "Asterisk"}


def _providers(settings: Settings, provider: str) -> list[str]:
    """The providers to fetch from: the one asked for, else every one whose account is set."""
    from survey.errors import Refused

    if provider and provider not in PROVIDERS:
        raise Refused(f"--provider {provider!r}: expected twilio or asterisk")
    if not settings.recordings_dir:
        raise Refused("MINYI_RECORDINGS_DIR is empty: there is nowhere to bring recordings home to")
    configured = [name for name, setting in (("twilio", settings.twilio_account_sid),
                                             ("asterisk", settings.ari_username)) if setting]
    if provider:
        if provider not in configured:
            raise Refused(f"{_LABEL[provider]} is not configured: set "
                          f"{'TWILIO_ACCOUNT_SID' if provider == 'twilio' else 'ARI_USERNAME'}")
        return [provider]
    if not configured:
        raise Refused("no provider is configured: set TWILIO_ACCOUNT_SID (Twilio) or ARI_USERNAME (Asterisk)")
    return configured


def _twilio(settings: Settings, sessions: sessionmaker[Session], clock: Clock, limit: int) -> FetchReport:
    from ivr.channels.twilio.fetch import RecordingFetcher
    from survey.errors import Refused

    try:
        fetcher = RecordingFetcher(settings, sessions, clock)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    try:
        return fetcher.run(limit)
    finally:
        fetcher.close()


def _asterisk(settings: Settings, sessions: sessionmaker[Session], clock: Clock, limit: int) -> FetchReport:
    """One pass of the ARI app's copier; Asterisk out of reach is a failure of this pass."""
    from pathlib import Path

    import anyio

    from calls.recordings import ari_server
    from ivr.channels.asterisk.ari import AriError, AriUnavailable, connect
    from ivr.channels.asterisk.channel import ari_config
    from ivr.channels.asterisk.recordings import RecordingCopier
    from ivr.channels.recordings_home import FetchReport

    copier = RecordingCopier(sessions, clock, Path(settings.recordings_dir), settings.recording_deletion,
                             ari_server(settings.ari_url))

    async def run() -> FetchReport:
        async with connect(ari_config(settings), events=False) as ari:
            return await copier.run(ari, limit=limit)

    try:
        return anyio.run(run)
    except (AriError, AriUnavailable) as exc:
        return FetchReport(retrying=[f"Asterisk at {settings.ari_url} could not be reached: {exc}"])
