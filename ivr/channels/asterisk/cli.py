"""``minyi ari``: serve the Stasis app for Asterisk (see docs/asterisk.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import typer

from ivr.channels.asterisk.app import AriApp
from ivr.channels.asterisk.channel import ari_config
from ivr.channels.asterisk.media import PromptAudioError, install_prompts
from ivr.channels.asterisk.options import AsteriskOptions
from survey.clock import SystemClock
from survey.config import load_settings
from survey.db import make_engine, session_factory


def ari(
    install_from: Path | None = typer.Option(
        None, "--install-prompts", exists=True, file_okay=False,
        help="Rendered prompt audio (<language>/<key>.wav) to copy into --sounds-dir before serving."),
    sounds_dir: Path = typer.Option(Path("/var/lib/asterisk/sounds"), envvar="ASTERISK_SOUNDS_DIR",
                                    help="Asterisk's sounds directory (astdatadir/sounds)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every call step."),
) -> None:
    """Serve the Stasis app: run every call that enters it (originated by `minyi dial --channel
    asterisk`), reconnecting with back-off whenever Asterisk goes away. Ctrl-C hangs up the calls
    in progress and reports them. Configuration: ARI_URL, ARI_USERNAME, ARI_PASSWORD, ARI_APP,
    ASTERISK_OPERATOR_ENDPOINT, ASTERISK_AMD_CONTEXT (docs/asterisk.md)."""
    settings = load_settings()
    if install_from is not None:
        try:
            installed = install_prompts(install_from, sounds_dir)
        except PromptAudioError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(f"installed {len(installed)} prompt file(s) under {sounds_dir / 'minyi'}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger("ivr.channels.asterisk").setLevel(logging.DEBUG)
    sessions = session_factory(make_engine(settings.database_url))
    app = AriApp(ari_config(settings), AsteriskOptions.from_settings(settings), sessions, SystemClock())
    try:
        anyio.run(app.serve)
    except KeyboardInterrupt:
        typer.echo("stopped")
