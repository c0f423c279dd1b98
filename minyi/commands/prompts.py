"""``minyi prompts build``: render every prompt's audio and list the recordings still missing."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ivr.prompts import (
    MISSING,
    RECORDED,
    AudioToolMissing,
    BuiltPrompt,
    PromptAudio,
    build_prompts,
    recording_name,
)
from survey.config import load_settings
from survey.questionnaire import Questionnaire, QuestionnaireError

BUNDLED = "bundled"


class CommandError(Exception):
    """Exit 2 with this message."""


def prompts_build(
    survey: str = typer.Option(None, "--survey", help="Survey code: its questionnaire, from the database."),
    questionnaire: str = typer.Option(None, "--questionnaire",
                                      help=f"A questionnaire file (YAML or XLSForm), or '{BUNDLED}'; no database."),
    prompts_dir: Path = typer.Option(None, "--prompts-dir",
                                     help="Recordings and audio cache (default: MINYI_PROMPTS_DIR or ./prompts)."),
) -> None:
    """Render every prompt (recording, else speech synthesis) and list the recordings still missing."""
    console = Console(highlight=False)
    try:
        q = _questionnaire(survey, questionnaire)
        folder = prompts_dir or Path(load_settings().prompts_dir)
        audio = PromptAudio.with_tools(folder, q.id)
    except (CommandError, AudioToolMissing) as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    built = build_prompts(q, audio)
    console.print(_table(built, f"{q.id} v{q.version}: {len(built)} prompts"))
    _summary(console, built, audio.folder)
    if any(b.source == MISSING for b in built):
        raise typer.Exit(1)


def _questionnaire(survey: str | None, path: str | None) -> Questionnaire:
    if (survey is None) == (path is None):
        raise CommandError("give either --survey CODE or --questionnaire FILE (or --questionnaire bundled)")
    if survey is not None:
        return _survey_questionnaire(survey)
    from survey.questionnaire import load_bundled
    from survey.questionnaire.files import read_any

    try:
        return load_bundled() if path == BUNDLED else read_any(Path(str(path)))
    except QuestionnaireError as exc:
        raise CommandError(f"{path} does not validate:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None


def _survey_questionnaire(code: str) -> Questionnaire:
    from survey.db import open_sessions
    from survey.surveys import SurveyError, survey_by_code, survey_questionnaire

    try:
        with open_sessions(load_settings().database_url)() as session:
            return survey_questionnaire(survey_by_code(session, code))
    except SurveyError as exc:
        raise CommandError(str(exc)) from None


def _table(built: list[BuiltPrompt], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("key", "language", "source", "duration", "note"):
        table.add_column(column, justify="right" if column == "duration" else "left")
    colours = {RECORDED: "green", MISSING: "red"}
    for b in built:
        source = b.source if b.source not in colours else f"[{colours[b.source]}]{b.source}[/]"
        duration = f"{b.duration_s:.1f} s" if b.duration_s is not None else "-"
        table.add_row(b.prompt.key, b.prompt.language, source, duration, b.problem or "")
    return table


def _summary(console: Console, built: list[BuiltPrompt], folder: Path) -> None:
    recorded = sum(b.recorded for b in built)
    failed = [b for b in built if b.source == MISSING]
    console.print(f"{recorded} recorded, {len(built) - recorded - len(failed)} synthesised, {len(failed)} failed; "
                  f"total {sum(b.duration_s or 0 for b in built) / 60:.1f} min of audio")
    unrecorded = [b for b in built if not b.recorded]
    if unrecorded:
        console.print(f"Missing recordings ({len(unrecorded)}), to be placed in {folder}/<language>/:")
        for b in unrecorded:
            console.print(f"  {b.prompt.language}/{recording_name(b.prompt.key)}")
