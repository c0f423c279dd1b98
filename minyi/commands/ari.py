"""``minyi ari``: serve the Stasis app for Asterisk (see docs/asterisk.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import typer
from sqlalchemy.orm import Session, sessionmaker

from ivr.channels.asterisk.app import AriApp
from ivr.channels.asterisk.channel import ari_config
from ivr.channels.asterisk.media import SUBDIR, PromptAudioError, install_prompts
from ivr.channels.asterisk.options import AsteriskOptions
from ivr.prompts import AudioToolMissing, PromptAudio
from survey.clock import SystemClock
from survey.config import load_settings
from survey.db import open_sessions
from survey.errors import Refused
from survey.phones import configured_vault
from survey.surveys import SurveyError, survey_by_code, survey_questionnaire


def ari(
    install_for: str | None = typer.Option(
        None, "--install-prompts", metavar="SURVEY",
        help="First render the prompts of this survey's questionnaire (MINYI_PROMPTS_DIR) and copy them "
             "into --sounds-dir."),
    sounds_dir: Path = typer.Option(Path("/var/lib/asterisk/sounds"), envvar="ASTERISK_SOUNDS_DIR",
                                    help="Asterisk's sounds directory (astdatadir/sounds)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every call step."),
) -> None:
    """Serve the Stasis app: run every call that enters it (originated by `minyi dial --channel
    asterisk --no-serve`), reconnecting with back-off whenever Asterisk goes away, and registering
    the app again when another connection took it and let it go. Ctrl-C hangs up the calls in
    progress and reports them. Configuration: ARI_URL, ARI_USERNAME, ARI_PASSWORD, ARI_APP,
    ASTERISK_OPERATOR_ENDPOINT, ASTERISK_AMD_CONTEXT (docs/asterisk.md)."""
    settings = load_settings()
    try:
        options = AsteriskOptions.from_settings(settings)
    except ValueError as exc:  # a bad endpoint template
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    sessions = open_sessions(settings.database_url)
    if install_for is not None:
        try:
            installed = _install(sessions, install_for, Path(settings.prompts_dir), sounds_dir)
        except (SurveyError, PromptAudioError, AudioToolMissing) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(f"installed {len(installed)} prompt file(s) under {sounds_dir / SUBDIR}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger("ivr.channels.asterisk").setLevel(logging.DEBUG)
    try:
        vault = configured_vault(settings)  # staff-placed calls dial the residents' numbers
    except Refused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    app = AriApp(ari_config(settings), options, sessions, SystemClock(), vault=vault)
    try:
        anyio.run(app.serve)
    except KeyboardInterrupt:
        typer.echo("stopped")


def _install(sessions: sessionmaker[Session], survey_code: str, prompts_dir: Path, sounds_dir: Path) -> list[Path]:
    with sessions() as s:
        questionnaire = survey_questionnaire(survey_by_code(s, survey_code))
    return install_prompts(questionnaire, PromptAudio.with_tools(prompts_dir, questionnaire.id), sounds_dir)
