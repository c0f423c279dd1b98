"""Administrative commands: ``db upgrade``, ``user add``, ``survey create``, ``survey set``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from survey.clock import SystemClock
from survey.config import load_settings
from survey.db import make_engine, open_sessions, session_scope, upgrade

console = Console()


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def db_upgrade() -> None:
    """Create the database named by MINYI_DATABASE_URL, or migrate it to the newest schema."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    except Exception as exc:  # the driver's own message says what is wrong with the URL/server
        raise _fail(f"cannot upgrade the database: {exc}") from None
    finally:
        engine.dispose()
    console.print("database is at the newest schema")


def user_add(
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., "--role", help="admin, supervisor, interviewer, transcriber, official or unit."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    township: list[str] = typer.Option([], "--township", help="Limit an official to these township codes."),
    unit: str = typer.Option("", "--unit", help="A unit account's responsible unit, by its code (units are added "
                                                "in the web app's admin pages)."),
) -> None:
    """Create a staff account."""
    from sqlalchemy import select

    from office.users import create_user
    from survey.models import Unit

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = load_settings()
    sessions = open_sessions(settings.database_url)
    try:
        with session_scope(sessions) as session:
            unit_id = session.scalar(select(Unit.id).where(Unit.code == unit)) if unit else None
            if unit and unit_id is None:
                raise _fail(f"no unit {unit!r}: add it in the web app (Admin, Units) first")
            user = create_user(session, name, password, role, SystemClock(), township_scope=township or None,
                               unit_id=unit_id)
            console.print(f"created {user.role} account {user.username!r}" + (f" of unit {unit}" if unit else ""))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if role == "unit" and not unit:
        console.print("note: a unit account sees its unit's concerns only once it has a unit: give --unit CODE, "
                      "or set it in the web app's admin pages", soft_wrap=True)


def survey_create(
    code: str = typer.Argument(..., help="Survey code, e.g. 2026-11."),
    questionnaire: Path = typer.Option(..., "--questionnaire", help="Questionnaire YAML or XLSForm; it needs a "
                                                                    "consent question unless its settings say "
                                                                    "consent: not_required."),
    period: str = typer.Option("", "--period", help="Period label, e.g. 2026-11 (default: the code)."),
    quota: int = typer.Option(0, "--quota", min=0, max=1_000_000,
                              help="Completes wanted per township (unless the strata file says)."),
    strata: Path = typer.Option(..., "--strata", help="Townships CSV: code,name_zh,name_en,quota (docs/formats.md)."),
    population: Path | None = typer.Option(None, "--population", help="Population counts CSV: "
                                           "township,margin,level,N with margins named by question id and "
                                           "levels by answer code (docs/formats.md)."),
    indices: Path | None = typer.Option(None, "--indices", help="Index definitions YAML (docs/formats.md); "
                                        "default: the bundled ones for the bundled questionnaire."),
    fieldwork_file: Path | None = typer.Option(None, "--settings", help="Fieldwork settings YAML: calling "
                                               "windows, holidays, retries, pacing, caller IDs, quotas "
                                               "(docs/formats.md)."),
) -> None:
    """Create a survey round (a wave) with its questionnaire, townships and quotas, and the index
    definitions and population counts its bulletin is computed with. Everything is checked first:
    nothing is stored when any file has a problem."""
    from dialer import fieldwork
    from reports.survey_inputs import settings_for_new_survey
    from survey.questionnaire import QuestionnaireError
    from survey.questionnaire.files import read_any
    from survey.surveys import SurveyError, create_survey, read_strata_csv

    try:
        q = read_any(questionnaire, require_consent=True)
        specs = read_strata_csv(strata)
        analysis_spec = settings_for_new_survey(q, specs, str(strata), population, indices)
        work = fieldwork.read_file(fieldwork_file, [s.code for s in specs]) if fieldwork_file else None
    except QuestionnaireError as exc:
        raise _fail(f"{questionnaire} does not validate:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None
    except (SurveyError, OSError) as exc:
        raise _fail(str(exc)) from None
    settings = load_settings()
    sessions = open_sessions(settings.database_url)
    try:
        with session_scope(sessions) as session:
            survey = create_survey(session, code, q, SystemClock(), period=period or code, strata=specs, quota=quota,
                                   settings={"analysis_spec": analysis_spec})
            if work is not None:
                fieldwork.store(session, survey, work, SystemClock(), user_id=None)
            console.print(f"created survey {survey.code} ({len(specs)} townships, questionnaire {q.id} v{q.version})")
    except SurveyError as exc:
        raise _fail(str(exc)) from None
    for missing, option in (("indices", "--indices INDICES.yaml"), ("weighting", "--population POP.csv")):
        if missing not in analysis_spec:
            console.print(f"note: no {'index definitions' if missing == 'indices' else 'population counts'} "
                          f"yet: add them with `minyi survey set {code} {option}` before `minyi report`", soft_wrap=True)


def survey_set(
    code: str = typer.Argument(..., help="Survey code."),
    population: Path | None = typer.Option(None, "--population", help="Population counts CSV (docs/formats.md)."),
    indices: Path | None = typer.Option(None, "--indices", help="Index definitions YAML (docs/formats.md)."),
) -> None:
    """Replace a round's index definitions and/or population counts, checked as `survey create` checks them."""
    from reports.survey_inputs import replace_survey_inputs
    from survey.clock import SystemClock
    from survey.surveys import survey_by_code

    if population is None and indices is None:
        raise _fail("give --population and/or --indices")
    sessions = open_sessions(load_settings().database_url)
    with session_scope(sessions) as session:  # a SurveyError (a Refused) rolls back and exits 2 in minyi.cli
        changed = replace_survey_inputs(session, survey_by_code(session, code), SystemClock(), None, population, indices)
    console.print(f"survey {code}: {' and '.join(changed)} replaced")
