"""The ``minyi`` command line. Each command lives with the package that does the work; this module
only assembles them, so a package that is missing or broken shows up as a clear exit-2 command."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer

app = typer.Typer(help="Minyi (民意): telephone public-opinion surveys.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

# command name -> (module, function, help). Groups ("db", "user", ...) use "group name".
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("survey.demo_cli", "demo", "Run a whole simulated survey round and write the bulletin."),
    "db upgrade": ("survey.admin_cli", "db_upgrade", "Create or migrate the database (MINYI_DATABASE_URL)."),
    "user add": ("survey.admin_cli", "user_add", "Create a staff account."),
    "questionnaire validate": ("survey.questionnaire.cli", "validate", "Validate a questionnaire file."),
    "survey create": ("survey.admin_cli", "survey_create", "Create a survey round with its questionnaire."),
    "sample import": ("dialer.cli", "sample_import", "Import a sample frame (CSV/XLSX)."),
    "prompts build": ("ivr.cli", "prompts_build", "Render every prompt's audio; list missing recordings."),
    "dial": ("dialer.cli", "dial", "Run the dialer."),
    "ari": ("ivr.channels.asterisk.cli", "ari", "Serve the Stasis app for Asterisk."),
    "export": ("reports.cli", "export", "Export answers without personal data."),
    "analyze": ("analysis.cli", "analyze", "Weight and estimate a flat file."),
    "report": ("reports.cli", "report", "Write the PDF bulletin for a period."),
    "web": ("web.cli", "web", "Serve the web app."),
}

_GROUP_HELP = {
    "db": "Database.",
    "user": "Staff accounts.",
    "questionnaire": "Questionnaires.",
    "survey": "Survey rounds.",
    "sample": "Sample frames.",
    "prompts": "Prompt audio.",
}


def _unavailable(name: str, reason: str) -> Callable[..., None]:
    def command(args: list[str] = typer.Argument(None)) -> None:  # noqa: B008
        typer.echo(f"minyi {name}: not available in this build ({reason})", err=True)
        raise typer.Exit(2)

    command.__doc__ = f"(not available: {reason})"
    return command


def _resolve(name: str, module: str, func: str) -> Callable[..., Any]:
    try:
        return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            return _unavailable(name, "not implemented yet")
        raise
    except AttributeError:
        return _unavailable(name, "not implemented yet")


def _build() -> None:
    groups: dict[str, typer.Typer] = {}
    for name, (module, func, help_text) in COMMANDS.items():
        target = _resolve(name, module, func)
        if " " in name:
            group, sub = name.split(" ", 1)
            if group not in groups:
                groups[group] = typer.Typer(help=_GROUP_HELP.get(group, ""), no_args_is_help=True)
                app.add_typer(groups[group], name=group)
            groups[group].command(sub, help=help_text)(target)
        else:
            app.command(name, help=help_text)(target)


_build()


def main() -> None:
    app()
