"""Administrators: recordings still at their provider, Twilio or Asterisk (waiting for their
download, or failed after every attempt) and copies the provider has not deleted yet, within the
administrator's township scope; a failed download can be sent back to its fetcher (audited)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from calls.recordings import try_again
from survey.models import Recording
from survey.vocabulary import RecordingDownload, Role
from web.access import roles, user
from web.context import ctx, db
from web.forms import ActionForm
from web.listing import paginate
from web.operations.transcripts import with_case
from web.scope import fetch, scope

bp = Blueprint("downloads", __name__, url_prefix="/admin/recordings")
WAITING = (RecordingDownload.PENDING, RecordingDownload.FAILED)


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """Failed downloads first, then those waiting, then copies at the provider whose deletion failed."""
    not_deleted = (Recording.download_status == RecordingDownload.STORED) & Recording.provider_deleted_at.is_(None) \
        & Recording.last_error.is_not(None)
    query = (select(Recording).where(scope().where(Recording),
                                     or_(Recording.download_status.in_(WAITING), not_deleted))
             .options(*with_case())
             .order_by(Recording.download_status,  # failed, pending, stored: alphabetical
                       Recording.next_attempt_at, Recording.id))
    return render_template("downloads/index.html", page=paginate(db(), query), action=ActionForm())


@bp.route("/<int:recording_id>/retry", methods=["POST"])
@roles(Role.ADMIN)
def retry(recording_id: int) -> Response:
    rec = fetch(Recording, recording_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if rec.download_status in WAITING:
        try_again(db(), rec, ctx().clock, user_id=user().id)
        flash(_("Recording #%(id)d will be downloaded at the next fetch.", id=rec.id), "info")
    else:
        flash(_("Recording #%(id)d is not waiting for a download.", id=rec.id), "error")
    return redirect(url_for("downloads.index"))
