"""``minyi questionnaire validate FILE``: exit 0 and a summary, or exit 2 and every problem."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from survey.questionnaire.loader import QuestionnaireError, load
from survey.questionnaire.model import Questionnaire


def read_any(path: Path) -> Questionnaire:
    """A questionnaire from YAML or from an XLSForm workbook (by file extension)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from survey.questionnaire.xlsform import load_xlsform

        return load_xlsform(path)
    return load(path)


def validate(file: Path = typer.Argument(..., help="Questionnaire YAML or XLSForm (.xlsx).")) -> None:
    console = Console()
    try:
        questionnaire = read_any(file)
    except QuestionnaireError as exc:
        err = Console(stderr=True)
        err.print(f"[bold red]{file}: {len(exc.problems)} problem(s)[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    s = questionnaire.summary()
    types = ", ".join(f"{n} {t}" for t, n in sorted(s["by_type"].items()))
    console.print(f"[green]OK[/] {s['id']} v{s['version']} ({'/'.join(s['languages'])}): "
                  f"{s['questions']} questions ({types}); {s['with_skip_logic']} with skip logic")
