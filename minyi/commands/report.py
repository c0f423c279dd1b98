"""``minyi export`` and ``minyi report``: files from a survey round in the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer
from rich.console import Console

from survey.config import load_settings
from survey.db import open_sessions, session_scope

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from reports.exports import Format
    from survey.models import Survey

console = Console()


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def export(
    survey: str = typer.Option(..., "--survey", help="Survey code."),
    fmt: str | None = typer.Option(None, "--format",
                                   help="csv, xlsx, sav or dta (default: --out's extension, else csv)."),
    out: Path = typer.Option(..., "--out", help="Output file."),
    partials: bool = typer.Option(False, "--partials", help="Include partial interviews (with a status column)."),
    language: str = typer.Option("zh", "--lang", help="Language of the labels: zh or en."),
) -> None:
    """Answers without personal data, one row per interview, with the design's columns (stratum,
    PSU, final and design weights), variable and value labels, and a codebook beside the file."""
    from reports.exports import PersonalDataError
    from reports.exports import export as write
    from reports.extract import design_columns, mark_not_asked, responses_frame
    from survey.labels import missing_codes, value_labels, variable_labels
    from survey.surveys import SurveyError, survey_by_code, survey_questionnaire
    from survey.vocabulary import InterviewStatus

    chosen = _export_format(fmt, out)
    statuses = (InterviewStatus.COMPLETE, InterviewStatus.PARTIAL) if partials else (InterviewStatus.COMPLETE,)
    declared = chosen in DECLARES_MISSING
    sessions = open_sessions(load_settings().database_url)
    try:
        with session_scope(sessions) as session:
            round_ = survey_by_code(session, survey)
            q = survey_questionnaire(round_)
            frame = responses_frame(session, round_, q, statuses=statuses, with_status=partials)
            frame = design_columns(session, round_, frame, language)
            frame, unweighted = _with_weights(session, round_, mark_not_asked(frame, q) if declared else frame)
        out.parent.mkdir(parents=True, exist_ok=True)  # as `minyi report` does
        written = write(frame, out, chosen, variable_labels=variable_labels(q, language),
                        value_labels=value_labels(q, language, not_asked=declared),
                        missing=missing_codes(q, not_asked=declared), codebook=True)
    except OSError as exc:
        raise _fail(_unwritable(out, exc)) from None
    except (SurveyError, PersonalDataError, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"{len(frame)} interviews → " + ", ".join(str(p) for p in written))
    if unweighted:
        console.print(f"note: no weight column: {unweighted}")


def _export_format(fmt: str | None, out: Path) -> Format:
    """``--format``, else the format ``--out``'s extension names, else csv; a format that contradicts
    the extension is refused rather than written under a name that promises another format."""
    from reports.exports import FORMATS

    by_name: dict[str, Format] = {f: f for f in FORMATS}
    named = by_name.get(out.suffix.lower().removeprefix("."))
    if fmt is None:
        return named or "csv"
    chosen = by_name.get(fmt)
    if chosen is None:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if named is not None and named != chosen:
        raise _fail(f"--format {fmt} but --out {out} names a .{named} file: make them agree")
    return chosen


def _unwritable(out: Path, exc: OSError) -> str:
    """Why ``out`` could not be written, in one line without Python's errno prefix."""
    return f"cannot write {out}: {exc.strerror or exc}"


DECLARES_MISSING = ("sav", "dta")  # formats with declared missing values: not-asked answers get a code


def _with_weights(session: Session, survey: Survey, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The frame with a ``weight`` column (blank for partial interviews), or why it has none."""
    from analysis.errors import AnalysisError
    from reports.results import final_weights
    from survey.surveys import SurveyError

    if frame.empty:
        return frame, "no completed interview yet"
    try:
        weights = final_weights(session, survey)
    except (SurveyError, AnalysisError) as exc:
        return frame, str(exc)
    return frame.merge(weights, on="id", how="left"), ""


def report(
    survey: str = typer.Option(..., "--survey", help="Survey code of the round to report."),
    period: str = typer.Option("", "--period", help="Its period (checked against the survey)."),
    lang: str = typer.Option("zh", "--lang", help="zh or en."),
    out: Path = typer.Option(..., "--out", help="PDF file to write."),
) -> None:
    """The PDF bulletin for one period, with change against the series' earlier rounds."""
    from analysis.errors import AnalysisError
    from reports.bulletin import render_bulletin
    from reports.bulletin_data import Lang
    from reports.from_db import bulletin_data
    from survey.clock import SystemClock
    from survey.surveys import SurveyError, survey_by_code

    if lang not in ("zh", "en"):
        raise _fail(f"--lang must be zh or en, not {lang!r}")
    language = cast(Lang, lang)
    settings = load_settings()
    sessions = open_sessions(settings.database_url)
    try:
        with session_scope(sessions) as session:
            round_ = survey_by_code(session, survey)
            if period and round_.period != period:
                raise SurveyError(f"survey {survey} is for period {round_.period}, not {period}")
            data = bulletin_data(session, round_, SystemClock(), settings, languages=(language,))
        out.parent.mkdir(parents=True, exist_ok=True)
        render_bulletin(data, out, language)
    except OSError as exc:
        raise _fail(_unwritable(out, exc)) from None
    except (SurveyError, AnalysisError, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"bulletin written: {out}")
