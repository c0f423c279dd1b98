"""Log in and out (rate-limited in :mod:`web.app`), and the language switch. Every login, failed
login and logout is an audit row with the client's address."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from office.users import check_login, end_sessions, find_user
from survey import audit
from survey.vocabulary import ROLES
from web.access import LoginUser, roles, user
from web.context import ctx, db
from web.forms import Form
from web.i18n import LANGUAGES

bp = Blueprint("auth", __name__)


class LoginForm(Form):
    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        row = find_user(db(), form.username.data or "")
        account = check_login(row, form.password.data or "")
        if account is not None:
            _fresh_session()
            login_user(LoginUser(account))
            audit.record(db(), ctx().clock, user_id=account.id, action="login", entity="user",
                         entity_id=account.id, after=_client())
            return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))
        _record_failure(row.id if row is not None else None)
        return render_template("login.html", form=form, failed=True), 401
    return render_template("login.html", form=form, failed=False), 200


@bp.route("/logout", methods=["POST"])
@roles(*ROLES)
def logout() -> Response:
    """End this session and every other session of the account (other browsers, stolen cookies)."""
    row = user().row
    end_sessions(row)
    audit.record(db(), ctx().clock, user_id=row.id, action="logout", entity="user", entity_id=row.id,
                 after=_client())
    logout_user()
    _fresh_session()
    return redirect(url_for("auth.login"))


def _record_failure(user_id: int | None) -> None:
    """An audit row for a failed login, in a transaction of its own: the request's is rolled back
    with the 401. The name typed is not kept when no account has it (it may be a password)."""
    with ctx().sessions.begin() as session:
        audit.record(session, ctx().clock, user_id=None, action="login_failed", entity="user",
                     entity_id=user_id if user_id is not None else "unknown", after=_client())


def _client() -> dict[str, str | None]:
    return {"address": request.remote_addr}


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
