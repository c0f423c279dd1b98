"""``minyi survey settings``: a round's fieldwork settings as one YAML file (docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from dialer import fieldwork
from survey.clock import SystemClock
from survey.config import load_settings
from survey.db import open_sessions, session_scope
from survey.surveys import survey_by_code


def survey_settings(
    code: str = typer.Argument(..., help="Survey code."),
    file: Path | None = typer.Option(None, "--file", help="Fieldwork settings YAML to set (docs/formats.md); "
                                     "without it, the round's settings are shown in the same format."),
) -> None:
    """Show a round's fieldwork settings (calling windows, holidays, retries, pacing, caller IDs,
    quotas) as a fieldwork file with every default filled in, or set them from one: the whole file
    is checked first, and nothing is stored when any value is wrong."""
    with session_scope(open_sessions(load_settings().database_url)) as session:  # a Refused exits 2 in minyi.cli
        survey = survey_by_code(session, code)
        if file is None:
            typer.echo(fieldwork.dump(fieldwork.of_survey(survey)), nl=False)
            return
        settings = fieldwork.read_file(file, [s.code for s in survey.strata])
        changed = fieldwork.store(session, survey, settings, SystemClock(), user_id=None)
    typer.echo(f"survey {code}: fieldwork settings {'set' if changed else 'unchanged'} from {file}")
