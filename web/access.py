"""Who may see what: login and roles per view (the rows each user may see: :mod:`web.scope`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import LoginManager, current_user, login_required

from survey.models import User
from web.context import db

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = ""
login_manager.session_protection = "strong"


def _session_identifier() -> str:
    """What "strong" session protection binds a session to: the client's address as the app
    trusts it (``request.remote_addr``, which ProxyFix sets from the proxies' X-Forwarded-For
    when MINYI_TRUSTED_PROXIES says there are any) and its user agent. Flask-Login's own reads
    the first X-Forwarded-For entry, which any client writes: a stolen cookie then worked from
    anywhere with the victim's address in that header."""
    client = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(client.encode()).hexdigest()


login_manager._session_identifier_generator = _session_identifier  # Flask-Login has no setting for it


class LoginUser:
    """The Flask-Login view of a :class:`User` row (the row stays in the request's session).

    Its id in the session is ``"<user id>.<session version>"``: a session signed before the
    account's version was raised (logout, a new password, deactivation) names a version the
    account no longer has, and :func:`_load` turns it away."""

    def __init__(self, row: User) -> None:
        self.row = row
        self.id = row.id
        self.session_version = row.session_version
        self.role = row.role
        self.username = row.username
        self.display_name = row.display_name or row.username
        self.township_scope: list[str] | None = row.township_scope or None
        self.unit_id = row.unit_id

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"


@login_manager.user_loader
def _load(session_id: str) -> LoginUser | None:
    user_id, _, version = session_id.partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    row = db().get(User, int(user_id))
    if row is None or not row.active or row.session_version != int(version):
        return None
    return LoginUser(row)


def roles(*allowed: str) -> Callable[[F], F]:
    """Log in first (302 to the login page), then 403 unless the user has one of ``allowed``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapper)  # type: ignore[no-any-return]

    return decorate


def user() -> LoginUser:
    """The logged-in user (views behind :func:`roles` only)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]

