"""The ``minyi`` command line.

Each command is a plain function with typer annotations in :mod:`minyi.commands`; this module
only names them. Commands load lazily, so ``minyi --help`` is quick and one command's import
cost never touches another.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

# command -> (module, function, help). A space makes a group: "db upgrade" is `minyi db upgrade`.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("minyi.commands.demo", "demo", "Run a whole simulated survey round and write the bulletin."),
    "db upgrade": ("minyi.commands.admin", "db_upgrade", "Create or migrate the database (MINYI_DATABASE_URL)."),
    "user add": ("minyi.commands.admin", "user_add", "Create a staff account."),
    "questionnaire validate": ("minyi.commands.questionnaire", "validate", "Validate a questionnaire file."),
    "survey create": ("minyi.commands.admin", "survey_create", "Create a survey round with its questionnaire."),
    "survey set": ("minyi.commands.admin", "survey_set", "Replace a round's index definitions or population counts."),
    "survey settings": ("minyi.commands.fieldwork", "survey_settings",
                        "Show a round's fieldwork settings as YAML, or set them from a file (--file)."),
    "survey list": ("minyi.commands.rounds", "survey_list", "List every survey round with its cases and completes."),
    "survey show": ("minyi.commands.rounds", "survey_show", "Show a round: cases by status, quotas and AAPOR rates."),
    "sample import": ("minyi.commands.dial", "sample_import", "Import a sample frame (CSV/XLSX)."),
    "dnc import": ("minyi.commands.dnc", "dnc_import",
                   "Put an outside list's numbers on the do-not-call list every survey honours."),
    "prompts build": ("minyi.commands.prompts", "prompts_build", "Render every prompt's audio; list missing recordings."),
    "dial": ("minyi.commands.dial", "dial", "Run the dialer."),
    "ari": ("minyi.commands.ari", "ari", "Serve the Stasis app for Asterisk."),
    "export": ("minyi.commands.report", "export", "Export answers without personal data."),
    "analyze": ("minyi.commands.analyze", "analyze", "Weight and estimate a flat file."),
    "report": ("minyi.commands.report", "report", "Write the PDF bulletin for a period."),
    "bulletin": ("minyi.commands.bulletin", "bulletin",
                 "Write the provincial bulletin and the county bulletins from one analysis file."),
    "web": ("minyi.commands.web", "web", "Serve the web app."),
    "recordings fetch": ("minyi.commands.recordings", "recordings_fetch",
                         "Bring recordings home from Twilio and Asterisk: copy, check, store, delete there."),
    "worker": ("minyi.commands.worker", "worker", "Run background jobs (sample uploads from the web app)."),
    "keys generate": ("minyi.commands.keys", "keys_generate", "Print phone keys for a key file."),
    "keys rotate": ("minyi.commands.keys", "keys_rotate", "Re-encrypt every stored number with the current key."),
}

GROUP_HELP = {
    "db": "Database schema.",
    "user": "Staff accounts.",
    "questionnaire": "Questionnaires.",
    "survey": "Survey rounds.",
    "sample": "Sample frames.",
    "dnc": "The do-not-call list.",
    "prompts": "Prompt audio.",
    "keys": "The keys of stored phone numbers.",
    "recordings": "Recordings of voice answers and calls.",
}


def _load(name: str) -> Callable[..., Any]:
    """The function behind ``name``. Every entry of COMMANDS exists (a test imports them all), so
    an import error here is a broken installation or a bug, and is not disguised."""
    module, func, _ = COMMANDS[name]
    return _guarded(getattr(importlib.import_module(module), func))


def _guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command``, with a database it cannot use (unreachable, not created, an older schema:
    :func:`survey.db.open_sessions`) or a refusal it did not report itself (phone keys that
    cannot be read, ...) reported in one line and exit 2 rather than a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from survey.db import DatabaseNotReady
        from survey.errors import Refused

        try:
            return command(*args, **kwargs)
        except (DatabaseNotReady, Refused) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return run


def _command(ctx: Any, name: str) -> Any:
    """The typer-built command object of ``name``."""
    leaf = name.split(" ")[-1]
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    command = _load(name)
    single.command(leaf, help=None if command.__doc__ else COMMANDS[name][2])(command)  # None: its docstring
    single.callback()(lambda: None)  # keep typer from collapsing the one command into the app
    group = typer.main.get_command(single)
    assert isinstance(group, TyperGroup)
    return group.get_command(ctx, leaf)


class LazyGroup(TyperGroup):
    """A group whose commands are imported only when they run (or their own --help is asked)."""

    def __init__(self, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def _children(self) -> dict[str, str]:
        """Direct child name -> help text."""
        out: dict[str, str] = {}
        for full, (_, _, help_text) in COMMANDS.items():
            if not full.startswith(self.prefix):
                continue
            child = full[len(self.prefix):].split(" ")[0]
            is_group = " " in full[len(self.prefix):]
            out[child] = GROUP_HELP.get(child, "") if is_group else help_text
        return out

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self._children())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self._children():
            return None
        full = self.prefix + cmd_name
        if full in COMMANDS:
            return _command(ctx, full)
        # rich_markup_mode None: typer's rich help would build every child command to list it
        return LazyGroup(prefix=full + " ", name=cmd_name, help=GROUP_HELP.get(cmd_name), no_args_is_help=True,
                         rich_markup_mode=None)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = list(self._children().items())
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(cls=LazyGroup, name="minyi", help="Minyi (民意): telephone public-opinion surveys.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)


@app.callback()
def _root() -> None:
    """Minyi (民意): telephone public-opinion surveys."""


def main() -> None:
    app(prog_name="minyi")

if __name__ == "__main__":
    main()
