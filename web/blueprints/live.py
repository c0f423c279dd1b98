"""Supervisors: the live view of a survey round. The page polls ``live.json`` every few seconds
and redraws itself; nothing needs a reload."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from survey.models import Survey
from survey.vocabulary import Role, SurveyStatus
from web.access import roles
from web.context import centre_zone, ctx, db
from web.i18n import language
from web.labels import terms
from web.queries.live import snapshot
from web.queries.questionnaires import questionnaire_of
from web.scope import fetch, scope

bp = Blueprint("live", __name__, url_prefix="/live")
POLL_SECONDS = 3  # app.config["LIVE_POLL_SECONDS"] overrides


@bp.route("/")
@roles(Role.SUPERVISOR)
def index() -> Response | str:
    surveys = db().scalars(select(Survey).where(scope().where(Survey)).order_by(Survey.id.desc())).all()
    current = next((s for s in surveys if s.status == SurveyStatus.ACTIVE), surveys[0] if surveys else None)
    if current is None:
        return render_template("live/none.html")
    return redirect(url_for("live.survey", survey_id=current.id))


@bp.route("/<int:survey_id>")
@roles(Role.SUPERVISOR)
def survey(survey_id: int) -> str:
    found = fetch(Survey, survey_id)
    data = snapshot(db(), found, questionnaire_of(found), ctx().clock.now(), language(), scope(), centre_zone())
    poll = current_app.config.get("LIVE_POLL_SECONDS", POLL_SECONDS)
    return render_template("live/survey.html", survey=found, data=data, poll=poll, kinds=terms("task"))


@bp.route("/<int:survey_id>.json")
@roles(Role.SUPERVISOR)
def data(survey_id: int) -> Response:
    found = fetch(Survey, survey_id)
    return jsonify(snapshot(db(), found, questionnaire_of(found), ctx().clock.now(), language(), scope(), centre_zone()))
