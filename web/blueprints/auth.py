"""Log in and out (rate-limited in :mod:`web.app`), and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from office.users import find_user, verify_password
from survey import audit
from survey.vocabulary import ROLES
from web.access import LoginUser, roles
from web.context import ctx, db
from web.i18n import LANGUAGES

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        row = find_user(db(), form.username.data or "")
        if row is not None and row.active and verify_password(row, form.password.data or ""):
            _fresh_session()
            login_user(LoginUser(row))
            audit.record(db(), ctx().clock, user_id=row.id, action="login", entity="user", entity_id=row.id)
            return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))
        return render_template("login.html", form=form, failed=True, centre=ctx().settings.centre_name), 401
    return render_template("login.html", form=form, failed=False, centre=ctx().settings.centre_name), 200


@bp.route("/logout", methods=["POST"])
@roles(*ROLES)
def logout() -> Response:
    logout_user()
    _fresh_session()
    return redirect(url_for("auth.login"))


def _fresh_session() -> None:
    """Drop everything from before (no session fixation), except the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/lang/<code>")
def set_language(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host) may be a redirect target."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
