"""``minyi recordings fetch``: bring Twilio's recordings home now (the dialer also does it at its
housekeeping), for a centre that records without dialling, or from cron."""

from __future__ import annotations

import typer

from survey.config import load_settings


def recordings_fetch(
    limit: int = typer.Option(200, "--limit", min=1, help="Downloads (and deletions at Twilio) at most, this time."),
) -> None:
    """Download the recordings due from Twilio, check and store them, delete them at Twilio by
    MINYI_RECORDING_DELETION. Exits 1 when any failed (each is listed; they are tried again later)."""
    from ivr.channels.twilio.fetch import RecordingFetcher
    from survey.clock import SystemClock
    from survey.db import open_sessions
    from survey.errors import Refused

    settings = load_settings()
    try:
        fetcher = RecordingFetcher(settings, open_sessions(settings.database_url), SystemClock())
    except ValueError as exc:
        raise Refused(str(exc)) from None
    try:
        report = fetcher.run(limit)
    finally:
        fetcher.close()
    typer.echo(f"{report.stored} recordings stored, {report.deleted} deleted at Twilio")
    for heading, lines in (("to try again later", report.retrying), ("failed for good (see the web app's "
                           "recording downloads)", report.failed), ("not deleted at Twilio", report.not_deleted)):
        if lines:
            typer.echo(f"{len(lines)} {heading}:", err=True)
            for line in lines:
                typer.echo(f"  {line}", err=True)
    if report.retrying or report.failed or report.not_deleted:
        raise typer.Exit(1)
