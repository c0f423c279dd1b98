"""Officials (and supervisors): indices by township with 95% CIs and trend charts, the ranking
with tiers, residents' concerns in their townships, and downloads. An official with a township
scope sees only those townships (and the county figure for comparison)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    after_this_request,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from reports.exports import FORMATS
from reports.results import missing_inputs
from survey.models import Survey
from survey.vocabulary import Role, SurveyStatus
from web import auditing
from web.access import roles, user
from web.analysis_inputs import missing_messages
from web.analysis_source import AnalysisUnavailable
from web.context import ctx, db
from web.i18n import language
from web.queries import dashboard
from web.queries.concerns import status_counts
from web.queries.downloads import bulletin_pdf, export_file, file_part
from web.queries.questionnaires import questionnaire_of
from web.request_values import record_id
from web.scope import fetch, scope

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
VIEWERS = (Role.OFFICIAL, Role.SUPERVISOR)


def _surveys() -> list[Survey]:
    return list(db().scalars(select(Survey).where(Survey.status != SurveyStatus.DRAFT, scope().where(Survey))
                             .order_by(Survey.id.desc())))


@bp.route("/")
@roles(*VIEWERS)
def index() -> str:
    surveys = _surveys()
    wanted = request.args.get("survey", type=record_id)
    survey = next((s for s in surveys if s.id == wanted), None) or _first_analysable(surveys)
    view, problem = None, None
    within = scope()
    missing = missing_messages(survey) if survey is not None else []
    if survey is not None and not missing:
        try:
            result = ctx().analyse(db(), survey)
        except AnalysisUnavailable as exc:
            problem = str(exc)
        else:
            view = dashboard.build(result, survey, request.args.get("index"), within.codes, language())
    concerns = status_counts(db(), survey.id, within, ctx().clock.now()) if survey else None
    return render_template("dashboard/index.html", surveys=surveys, survey=survey, view=view, problem=problem,
                           missing=missing, concerns=concerns, formats=FORMATS, scope=within.codes)


def _first_analysable(surveys: list[Survey]) -> Survey | None:
    """The newest round that has what its analysis needs (else the newest): an official opening the
    dashboard lands on figures, and picks a round still being set up only on purpose."""
    return next((s for s in surveys if not missing_inputs(s)), surveys[0] if surveys else None)


@bp.route("/<int:survey_id>/bulletin-<lang>.pdf")
@roles(*VIEWERS)
def bulletin(survey_id: int, lang: str) -> Response:
    """The county bulletin of the round (a published document: the same for every official)."""
    survey = fetch(Survey, survey_id)
    if lang not in ("zh", "en"):
        abort(404)
    missing = missing_messages(survey)
    for sentence in missing:
        flash(sentence, "error")
    if missing:
        return redirect(url_for("dashboard.index", survey=survey.id))
    try:
        pdf = bulletin_pdf(db(), survey, ctx(), lang)  # type: ignore[arg-type]
    except AnalysisUnavailable as exc:
        flash(_("The bulletin cannot be made yet: %(why)s", why=str(exc)), "error")
        return redirect(url_for("dashboard.index", survey=survey.id))
    auditing.download("bulletin", survey.id, language=lang)
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                     download_name=f"minyi-{file_part(survey.code)}-{lang}.pdf", max_age=0)


@bp.route("/<int:survey_id>/export.<fmt>")
@roles(*VIEWERS)
def export(survey_id: int, fmt: str) -> Response:
    survey = fetch(Survey, survey_id)
    if fmt not in FORMATS:
        abort(404)
    folder = tempfile.TemporaryDirectory(prefix="minyi-export-")
    path = export_file(db(), survey, questionnaire_of(survey), fmt, scope().codes, language(),
                       Path(folder.name))

    @after_this_request
    def _cleanup(response: Response) -> Response:
        response.call_on_close(folder.cleanup)
        return response

    auditing.download("export", survey.id, format=fmt, townships=user().township_scope)
    return send_file(path, as_attachment=True, download_name=path.name, max_age=0)
