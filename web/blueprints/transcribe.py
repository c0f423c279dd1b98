"""Transcribers: recordings of open answers to listen to, transcribe, categorise and turn into
a concern with one click. Supervisors may use it too."""

from __future__ import annotations

import mimetypes

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from office.concerns import CATEGORIES, ConcernError
from survey.models import CallAttempt, Case, Interview, Recording
from survey.vocabulary import Role
from web import auditing
from web.access import roles, user
from web.context import ctx, db
from web.forms import ActionForm, Form
from web.i18n import refusal
from web.listing import Filters, paginate, townships
from web.operations.concern_intake import concern_from_recording, recording_concern
from web.operations.transcripts import TranscriptError, audio_path, audio_state, save_transcription, with_case
from web.scope import fetch, scope

bp = Blueprint("transcribe", __name__, url_prefix="/transcribe")
STAFF = (Role.TRANSCRIBER, Role.SUPERVISOR)


class TranscriptForm(Form):
    transcription = TextAreaField(validators=[Length(max=8000)])
    category = SelectField(choices=["", *CATEGORIES])


@bp.route("/")
@roles(*STAFF)
def index() -> str:
    """Recordings (waiting for a transcription, or all), filtered by township and recording date."""
    show, found, within = request.args.get("show", "pending"), Filters.from_request(), scope()
    query = (select(Recording).outerjoin(Interview, Interview.id == Recording.interview_id)
             .outerjoin(CallAttempt, CallAttempt.id == Recording.attempt_id)
             .join(Case, Case.id == func.coalesce(Interview.case_id, CallAttempt.case_id))
             .where(within.where(Recording), found.in_township(Case.stratum_id), found.between(Recording.created_at))
             .options(*with_case())
             .order_by(Recording.id.desc()))
    if show == "pending":
        query = query.where(Recording.transcription.is_(None))
    return render_template("transcribe/index.html", page=paginate(db(), query), show=show, found=found,
                           townships=townships(db(), within), categories=CATEGORIES)


@bp.route("/<int:recording_id>", methods=["GET", "POST"])
@roles(*STAFF)
def recording(recording_id: int) -> Response | str:
    rec = fetch(Recording, recording_id)
    form = TranscriptForm(obj=rec)
    if form.validate_on_submit():
        try:
            save_transcription(db(), rec, ctx().clock, text=form.transcription.data or "",
                               category=form.category.data or "", user_id=user().id)
        except TranscriptError as exc:
            db().rollback()
            flash(refusal(exc), "error")
            return redirect(url_for("transcribe.recording", recording_id=rec.id))
        if request.form.get("then") == "concern":
            return _make_concern(rec)
        flash(_("Transcription saved."), "info")
        return redirect(url_for("transcribe.recording", recording_id=rec.id))
    return render_template("transcribe/recording.html", rec=rec, form=form, categories=CATEGORIES,
                           concern=recording_concern(db(), rec), action=ActionForm(),
                           audio=audio_state(ctx().settings.recordings_dir, rec))


@bp.route("/<int:recording_id>/concern", methods=["POST"])
@roles(*STAFF)
def concern(recording_id: int) -> Response:
    rec = fetch(Recording, recording_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _make_concern(rec)


def _make_concern(rec: Recording) -> Response:
    try:
        made = concern_from_recording(db(), rec, ctx().clock, user_id=user().id)
    except ConcernError as exc:
        db().rollback()
        flash(refusal(exc), "error")
    else:
        flash(_("Concern #%(id)d registered (受理).", id=made.id), "info")
    return redirect(url_for("transcribe.recording", recording_id=rec.id))


@bp.route("/<int:recording_id>/audio")
@roles(*STAFF)
def audio(recording_id: int) -> Response:
    path = audio_path(ctx().settings.recordings_dir, fetch(Recording, recording_id))
    if path is None:
        abort(404)
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    auditing.download("recording", recording_id)
    return send_file(path, mimetype=mimetype, conditional=True, max_age=0)
