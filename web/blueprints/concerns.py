"""Residents' concerns (群众诉求): supervisors assign them to a responsible unit with a deadline
(交办) and may record a revisit made outside the console; a unit sees only its own concerns,
records its handling and marks them resolved (办结). Overdue concerns are flagged. Every step goes
through :mod:`office.concerns` (audited; illegal steps refused with a clear message)."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from office import concerns as workflow
from survey.clock import from_local
from survey.models import Concern, Unit, User
from survey.vocabulary import CONCERN_ORDER, Role
from web.access import roles, user
from web.context import centre_zone, ctx, db
from web.forms import ActionForm, Form, refused
from web.i18n import refusal
from web.labels import concern_status
from web.listing import Filters, paginate, townships
from web.queries.concerns import listing
from web.request_values import plausible_moment
from web.scope import fetch, scope

bp = Blueprint("concerns", __name__, url_prefix="/concerns")
READERS = (Role.SUPERVISOR, Role.UNIT)
END_OF_DAY = time(23, 59)


class AssignForm(Form):
    unit_id = SelectField(coerce=int)
    deadline = DateField(validators=[DataRequired(), plausible_moment])
    note = TextAreaField(validators=[Length(max=2000)])


class NoteForm(Form):
    note = TextAreaField(validators=[Length(max=4000)])


class ResolveForm(NoteForm):
    """The note of the resolution (its errors are shown by its own form, not the note form's)."""


class RevisitForm(Form):
    result = SelectField(choices=list(workflow.REVISIT_RESULTS))
    note = TextAreaField(validators=[Length(max=2000)])


@bp.route("/")
@roles(*READERS)
def index() -> str:
    now, found, within = ctx().clock.now(), Filters.from_request(), scope()
    query = listing(within, found, overdue_only=bool(request.args.get("overdue")), now=now)
    return render_template("concerns/index.html", page=paginate(db(), query), now=now, status=found.status,
                           found=found, townships=townships(db(), within), overdue=workflow.is_overdue,
                           categories=workflow.CATEGORIES, statuses=CONCERN_ORDER)


@bp.route("/<int:concern_id>")
@roles(*READERS)
def detail(concern_id: int) -> str:
    concern = fetch(Concern, concern_id)
    users = {u.id: u.display_name or u.username for u in db().scalars(select(User))}
    form = AssignForm()
    return render_template(
        "concerns/detail.html", concern=concern, users=users, actions=workflow.allowed_actions(concern),
        overdue=workflow.is_overdue(concern, ctx().clock.now()), categories=workflow.CATEGORIES,
        statuses=CONCERN_ORDER, results=workflow.REVISIT_RESULTS, assign_form=form, note_form=NoteForm(),
        resolve_form=ResolveForm(),
        revisit_form=RevisitForm(), action=ActionForm(), units=db().scalars(select(Unit).order_by(Unit.code)).all())


def _back(concern: Concern) -> Response:
    return redirect(url_for("concerns.detail", concern_id=concern.id))


def _done(concern: Concern, message: str) -> Response:
    flash(message, "info")
    return _back(concern)


def _refused(concern: Concern, exc: workflow.ConcernError) -> Response:
    db().rollback()
    if isinstance(exc, workflow.IllegalTransition):
        allowed = "、".join(concern_status(s) for s in exc.allowed)
        flash(_("Not possible: this concern is %(status)s; that step can only be taken from %(allowed)s.",
                status=concern_status(exc.status), allowed=allowed), "error")
    else:
        flash(refusal(exc), "error")
    return redirect(url_for("concerns.detail", concern_id=concern.id))


@bp.route("/<int:concern_id>/assign", methods=["POST"])
@roles(Role.SUPERVISOR)
def assign(concern_id: int) -> Response:
    concern, form = fetch(Concern, concern_id), AssignForm()
    form.unit_id.choices = [str(i) for i in db().scalars(select(Unit.id))]
    if not form.validate_on_submit() or form.deadline.data is None:
        return refused(form, _back(concern))
    deadline = from_local(datetime.combine(form.deadline.data, END_OF_DAY), centre_zone())
    try:
        workflow.assign(db(), concern, ctx().clock, unit_id=form.unit_id.data or 0, deadline=deadline,
                        user_id=user().id, note=form.note.data or "")
    except workflow.ConcernError as exc:
        return _refused(concern, exc)
    return _done(concern, _("Assigned (交办)."))


@bp.route("/<int:concern_id>/start", methods=["POST"])
@roles(Role.UNIT)
def start(concern_id: int) -> Response:
    concern = fetch(Concern, concern_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        workflow.start(db(), concern, ctx().clock, user_id=user().id)
    except workflow.ConcernError as exc:
        return _refused(concern, exc)
    return _done(concern, _("Handling started (办理中)."))


@bp.route("/<int:concern_id>/note", methods=["POST"])
@roles(Role.UNIT)
def note(concern_id: int) -> Response:
    concern, form = fetch(Concern, concern_id), NoteForm()
    if not form.validate_on_submit():
        return refused(form, _back(concern))
    try:
        workflow.add_note(db(), concern, ctx().clock, user_id=user().id, note=form.note.data or "")
    except workflow.ConcernError as exc:
        return _refused(concern, exc)
    return _done(concern, _("Handling recorded."))


@bp.route("/<int:concern_id>/resolve", methods=["POST"])
@roles(Role.UNIT)
def resolve(concern_id: int) -> Response:
    concern, form = fetch(Concern, concern_id), ResolveForm()
    if not form.validate_on_submit():
        return refused(form, _back(concern))
    try:
        workflow.resolve(db(), concern, ctx().clock, user_id=user().id, note=form.note.data or "")
    except workflow.ConcernError as exc:
        return _refused(concern, exc)
    return _done(concern, _("Resolved (已办结). The call centre will call the resident back (回访)."))


@bp.route("/<int:concern_id>/revisit", methods=["POST"])
@roles(Role.SUPERVISOR)
def revisit(concern_id: int) -> Response:
    concern, form = fetch(Concern, concern_id), RevisitForm()
    if not form.validate_on_submit():
        return refused(form, _back(concern))
    try:
        workflow.record_revisit(db(), concern, ctx().clock, user_id=user().id, result=form.result.data or "",
                                note=form.note.data or "")
    except workflow.ConcernError as exc:
        return _refused(concern, exc)
    return _done(concern, _("Revisit recorded (已回访)."))
