"""The start page: each role goes to its own first page."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from web.templating import NAVIGATION

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index() -> Response:
    endpoint = NAVIGATION[current_user.role][0][0]
    return redirect(url_for(endpoint))
