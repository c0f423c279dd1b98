"""``minyi survey list`` and ``minyi survey show``: where every round stands."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from analysis.rates import HEADLINE_RATES
from analysis.results import COUNTY, OutcomeRates
from dialer.quotas import StratumProgress, progress
from dialer.stats import cases_by_status, survey_overviews
from reports.dispositions import survey_rates
from survey.config import load_settings
from survey.db import open_sessions, session_scope
from survey.models import Survey
from survey.surveys import SurveyError, survey_by_code

console = Console(soft_wrap=True, highlight=False)


def survey_list() -> None:
    """Every survey round: code, period, status, questionnaire, townships, cases and completes."""
    with session_scope(open_sessions(load_settings().database_url)) as session:
        rows = survey_overviews(session)
    if not rows:
        console.print("no survey yet: create one with `minyi survey create`")
        return
    table = Table(title="Surveys", title_justify="left")
    for col in ("code", "period", "status", "questionnaire", "townships", "cases", "completes"):
        table.add_column(col, justify="right" if col in ("townships", "cases", "completes") else "left")
    for r in rows:
        table.add_row(r.code, r.period, r.status, r.questionnaire, str(r.townships), str(r.cases), str(r.completes))
    console.print(table)


def survey_show(code: str = typer.Argument(..., help="Survey code.")) -> None:
    """A round's status, its cases by status, and per township the completes against the quota
    and the AAPOR outcome rates (cases still open count by their last call, as in the bulletin)."""
    with session_scope(open_sessions(load_settings().database_url)) as session:
        try:
            survey = survey_by_code(session, code)
        except SurveyError as exc:
            Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        console.print(_heading(survey))
        statuses = cases_by_status(session, survey.id)
        towns = progress(session, survey.id)
        rates = {r.stratum: r for r in survey_rates(session, survey)}
    console.print("cases: " + (", ".join(f"{s} {n}" for s, n in sorted(statuses.items()))
                               + f"; total {sum(statuses.values())}" if statuses else "none imported yet"))
    console.print(_townships(towns, rates))


def _heading(survey: Survey) -> str:
    field = (f"; fieldwork {survey.field_start:%Y-%m-%d} → {survey.field_end:%Y-%m-%d}"
             if survey.field_start and survey.field_end else "")
    q = survey.questionnaire
    return (f"[bold]{survey.code}[/] period {survey.period}, status {survey.status}; "
            f"questionnaire {q.qid} v{q.version}{field}")


def _townships(towns: list[StratumProgress], rates: dict[str, OutcomeRates]) -> Table:
    table = Table(title="By township (AAPOR rates, %)", title_justify="left")
    for col in ("township", "name", "completes / quota", *HEADLINE_RATES):
        table.add_column(col, justify="left" if col in ("township", "name") else "right")
    for t in towns:
        table.add_row(t.code, t.name, f"{t.completes} / {t.quota}", *_rates(rates.get(t.code)))
    table.add_row("ALL", "", f"{sum(t.completes for t in towns)} / {sum(t.quota for t in towns)}",
                  *_rates(rates.get(COUNTY)), style="bold")
    return table


def _rates(rates: OutcomeRates | None) -> list[str]:
    values = [rates.rates[k] if rates else None for k in HEADLINE_RATES]
    return ["—" if v is None else f"{100 * v:.1f}" for v in values]
