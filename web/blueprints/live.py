"""Supervisors: the live view of a survey round. The page polls ``live.json`` every few seconds
and redraws itself; nothing needs a reload."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from calls import staff_lines
from ivr.channels.staff_lines import open_staff_line
from survey.models import StaffCall, Survey, User
from survey.vocabulary import Role, SurveyStatus
from web.access import roles, user
from web.context import centre_zone, ctx, db
from web.forms import ActionForm
from web.i18n import language, refusal
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


@bp.route("/call/<int:call_id>/listen", methods=["POST"])
@roles(Role.SUPERVISOR, Role.ADMIN)
def listen(call_id: int) -> Response:
    """Listen in, muted, on a bridged staff call: the supervisor's own phone rings (audited)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    call = fetch(StaffCall, call_id)
    me = db().get(User, user().id)
    assert me is not None
    try:
        staff_lines.listen(db(), call, me, open_staff_line(call.provider, ctx().settings), ctx().clock)
        flash(_("Your phone rings: answer it to listen in."), "info")
    except staff_lines.StaffLineError as exc:
        db().rollback()
        flash(refusal(exc), "error")
    return redirect(url_for("live.survey", survey_id=call.case.survey_id))
