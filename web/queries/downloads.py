"""Files officials download: the PDF bulletin (``reports.from_db`` + ``reports.bulletin``, on the
same analysis the dashboard shows), and answers without personal data (``reports.extract`` +
``reports.exports``, which refuses anything that looks like a phone number), limited to the
user's townships."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from reports.bulletin import render_bulletin
from reports.bulletin_data import Lang
from reports.exports import FORMATS, Format, export
from reports.extract import responses_frame
from reports.from_db import bulletin_data
from reports.results import series
from survey.models import Survey
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm
from web.context import WebContext


def labels(q: Questionnaire, lang: str) -> tuple[dict[str, str], dict[str, dict[int | float, str]]]:
    """Variable and value labels in ``lang`` for the extract's columns."""
    variables: dict[str, str] = {}
    values: dict[str, dict[int | float, str]] = {}
    for question in q.questions:
        title = qm.text_in(question.label or question.text, lang)[:80]
        if question.type == qm.MULTIPLE:
            for c in question.choices:
                variables[f"{question.id}_{c.code}"] = f"{title}: {qm.text_in(c.label, lang)}"[:80]
        elif question.collects_answer:
            variables[question.id] = title
            if question.choices:
                values[question.id] = {c.code: qm.text_in(c.label, lang) for c in question.choices}
    return variables, values


def export_file(session: Session, survey: Survey, q: Questionnaire, fmt: str, scope: list[str] | None,
                lang: str, folder: Path) -> Path:
    """The export in ``folder``; CSV comes zipped with its codebook."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    frame = responses_frame(session, survey, q)
    if scope:
        frame = frame[frame["township"].isin(scope)].reset_index(drop=True)
    variables, values = labels(q, lang)
    fmt_: Format = fmt
    name = f"minyi-{file_part(survey.code)}"
    files = export(frame, folder / f"{name}.{fmt}", fmt_, variables, values)
    if len(files) == 1:
        return files[0]
    bundle = folder / f"{name}-csv.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
    return bundle


def file_part(code: str) -> str:
    """A round's code as part of a file name: a code is free text (``2026/11`` would name a
    folder that is not there, a line break is no header value)."""
    return re.sub(r"[^\w.-]", "_", code)


def bulletin_pdf(session: Session, survey: Survey, context: WebContext, lang: Lang) -> bytes:
    """The bulletin of ``survey`` in ``lang`` as PDF bytes."""
    result = context.analyse(session, survey)
    periods = [s.period for s in series(session, survey)]
    data = bulletin_data(session, survey, context.clock, context.settings, languages=(lang,), analysis=result,
                         periods=periods)
    out = io.BytesIO()
    render_bulletin(data, out, lang)
    return out.getvalue()
