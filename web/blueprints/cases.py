"""Supervisors: cases of a survey (numbers masked), and one case's attempt history, interviews,
answers, recordings, tasks and concerns, with audited corrections."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from calls.callbacks import set_callback
from dialer.schedule import ScheduleError
from office.concerns import CATEGORIES
from survey import aapor
from survey.clock import from_local
from survey.models import (
    QC_RECORDING,
    AuditLog,
    CallAttempt,
    Case,
    Concern,
    FollowUpTask,
    Interview,
    Recording,
    StaffCall,
    Survey,
    User,
)
from survey.vocabulary import Role
from web.access import roles, user
from web.context import centre_zone, ctx, db
from web.forms import Form, refused
from web.i18n import language, refusal
from web.labels import terms
from web.listing import Filters, paginate, townships
from web.operations.answers import AnswerEditError, edit_answer
from web.operations.cases import CaseChangeError, set_final_disposition
from web.operations.transcripts import audio_path
from web.queries.questionnaires import questionnaire_of
from web.queries.script import answer_lines
from web.request_values import plausible_moment, record_id
from web.scope import fetch, scope
from web.templating import local_time

bp = Blueprint("cases", __name__, url_prefix="/cases")


class AnswerForm(Form):
    interview_id = HiddenField(validators=[DataRequired()])
    question_id = SelectField(validate_choice=False)
    keys = StringField(validators=[DataRequired(), Length(max=20)])
    reason = StringField(validators=[DataRequired(), Length(max=200)])


class DispositionForm(Form):
    code = SelectField(choices=list(aapor.DISPOSITIONS))
    reason = StringField(validators=[DataRequired(), Length(max=200)])


class CallbackForm(Form):
    when = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[DataRequired(), plausible_moment])




def _back(case: Case) -> Response:
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/")
@roles(Role.SUPERVISOR)
def index() -> str:
    """The cases of a survey, filtered by township, status and last change, a page at a time."""
    session, within = db(), scope()
    surveys = session.scalars(select(Survey).where(within.where(Survey)).order_by(Survey.id.desc())).all()
    survey_id = request.args.get("survey", type=record_id) or (surveys[0].id if surveys else 0)
    found = Filters.from_request()
    query = (select(Case).where(Case.survey_id == survey_id, within.where(Case), found.in_township(Case.stratum_id),
                                found.between(Case.updated_at))
             .options(joinedload(Case.stratum), joinedload(Case.contact)).order_by(Case.id))
    if found.status:
        query = query.where(Case.status == found.status)
    return render_template("cases/index.html", surveys=surveys, survey_id=survey_id, page=paginate(session, query),
                           found=found, townships=townships(session, within, survey_id),
                           statuses=list(terms("case").items()))


@bp.route("/<int:case_id>")
@roles(Role.SUPERVISOR)
def detail(case_id: int) -> str:
    case, session, lang = fetch(Case, case_id), db(), language()
    survey = session.get(Survey, case.survey_id)
    assert survey is not None
    q = questionnaire_of(survey)
    interviews = session.scalars(select(Interview).where(Interview.case_id == case.id).order_by(Interview.id)).all()
    ids = [i.id for i in interviews]
    attempts = session.scalars(select(CallAttempt).where(CallAttempt.case_id == case.id).order_by(CallAttempt.id)).all()
    recordings = session.scalars(select(Recording).where(or_(Recording.interview_id.in_(ids), Recording.attempt_id.in_(
        [a.id for a in attempts])), Recording.question_id != QC_RECORDING).order_by(Recording.id)).all()
    staff_calls = session.scalars(select(StaffCall).where(StaffCall.case_id == case.id).order_by(StaffCall.id)).all()
    qc = {r.staff_call_id: r for r in session.scalars(select(Recording).where(
        Recording.staff_call_id.in_([c.id for c in staff_calls])))} if staff_calls else {}
    history = session.scalars(select(AuditLog).where(
        ((AuditLog.entity == "case") & (AuditLog.entity_id == str(case.id)))
        | ((AuditLog.entity == "interview") & AuditLog.entity_id.in_([str(i) for i in ids])))
        .order_by(AuditLog.id.desc()).limit(50)).all()
    names = {u.id: u.display_name or u.username for u in session.scalars(select(User))}
    return render_template(
        "cases/detail.html", case=case, survey=survey, interviews=interviews,
        answers={i.id: answer_lines(i, q, lang) for i in interviews},
        attempts=attempts, recordings=recordings, staff_calls=staff_calls, qc=qc,
        playable={r.id for r in [*recordings, *qc.values()] if audio_path(ctx().settings.recordings_dir, r) is not None},
        tasks=session.scalars(select(FollowUpTask).where(FollowUpTask.case_id == case.id)
                              .order_by(FollowUpTask.id)).all(),
        concerns=session.scalars(select(Concern).where(Concern.case_id == case.id)).all(), categories=CATEGORIES,
        history=history, answer_form=AnswerForm(), disposition_form=DispositionForm(code=case.final_disposition),
        callback_form=CallbackForm(), dispositions=aapor.DISPOSITIONS, names=names,
        workers={f"staff:{user_id}": name for user_id, name in names.items()})


@bp.route("/<int:case_id>/answer", methods=["POST"])
@roles(Role.SUPERVISOR)
def answer(case_id: int) -> Response:
    case, form = fetch(Case, case_id), AnswerForm()
    if not form.validate_on_submit():
        return refused(form, _back(case))
    try:
        interview = db().get(Interview, record_id(form.interview_id.data))
    except ValueError:
        abort(400)
    if interview is None or interview.case_id != case.id:
        abort(404)
    survey = db().get(Survey, case.survey_id)
    assert survey is not None
    try:
        edit_answer(db(), interview, questionnaire_of(survey), form.question_id.data or "", form.keys.data or "",
                    ctx().clock, user_id=user().id, reason=form.reason.data or "")
        flash(_("Answer corrected."), "info")
    except AnswerEditError as exc:
        db().rollback()
        flash(refusal(exc), "error")
    return _back(case)


@bp.route("/<int:case_id>/disposition", methods=["POST"])
@roles(Role.SUPERVISOR)
def disposition(case_id: int) -> Response:
    case, form = fetch(Case, case_id), DispositionForm()
    if not form.validate_on_submit():
        return refused(form, _back(case))
    try:
        set_final_disposition(db(), case, form.code.data or "", ctx().clock, user_id=user().id,
                              reason=form.reason.data or "")
        flash(_("Disposition changed."), "info")
    except CaseChangeError as exc:
        db().rollback()
        flash(refusal(exc), "error")
    return _back(case)


@bp.route("/<int:case_id>/callback", methods=["POST"])
@roles(Role.SUPERVISOR)
def callback(case_id: int) -> Response:
    case, form = fetch(Case, case_id), CallbackForm()
    if not form.validate_on_submit():
        return refused(form, _back(case))
    try:
        booked = set_callback(db(), case, from_local(form.when.data, centre_zone()), user().row,
                              now=ctx().clock.now())
        flash(_("Callback booked for %(when)s (%(zone)s).", when=local_time(booked), zone=centre_zone()), "info")
    except ScheduleError as exc:
        db().rollback()
        flash(refusal(exc), "error")
    return _back(case)

