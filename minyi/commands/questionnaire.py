"""``minyi questionnaire validate FILE``: exit 0 and a summary, or exit 2 and every problem."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from survey.questionnaire.files import read_any
from survey.questionnaire.loader import QuestionnaireError


def validate(file: Path = typer.Argument(..., help="Questionnaire YAML or XLSForm (.xlsx).")) -> None:
    """Check a questionnaire as `minyi survey create` will, and list every problem at once, each at
    its FILE:LINE:COLUMN (a workbook: FILE:SHEET!CELL): YAML syntax, keys written twice, the
    schema, skip logic and texts. A questionnaire needs a question with `role: consent` unless
    its settings say `consent: not_required` (docs/command-line.md)."""
    try:
        questionnaire = read_any(file, require_consent=True)
    except QuestionnaireError as exc:
        err = Console(stderr=True, soft_wrap=True, highlight=False)
        err.print(Text(f"{file}: {len(exc.problems)} problem(s)", style="bold red"))
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(2) from None
    s = questionnaire.summary()
    types = ", ".join(f"{n} {t}" for t, n in sorted(s["by_type"].items()))
    Console(soft_wrap=True, highlight=False).print(
        f"[green]OK[/] {s['id']} v{s['version']} ({'/'.join(s['languages'])}): "
        f"{s['questions']} questions ({types}); {s['with_skip_logic']} with skip logic")
