"""The Flask application factory."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from flask import Flask, Response, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from survey.clock import Clock, SystemClock
from survey.config import Settings, load_settings
from survey.db import make_engine, session_factory
from survey.errors import Refused
from survey.phones import configured_vault
from web import analysis_source
from web.access import login_manager
from web.context import Analyse, WebContext, install
from web.i18n import DEFAULT_LANGUAGE, DictBabel, select_language
from web.request_values import RecordIdConverter
from web.startup import check_secret_key
from web.templating import setup_templates
from web.webhook_app import mount_webhooks

csrf = CSRFProtect()
T = TypeVar("T")

LOGIN_RATE_LIMIT = "5 per minute"  # failed logins per client address
LOGIN_ACCOUNT_RATE_LIMIT = "10 per hour"  # failed logins per user name, from every address together
APP_LOAD_ERROR = 4  # the exit status gunicorn's arbiter reads as "App failed to load": it stops, not respawns


def create_app(settings: Settings | None = None, sessions: sessionmaker[Session] | None = None,
               clock: Clock | None = None, *, analyse: Analyse | None = None) -> Flask:
    """The web app. Defaults: settings from the environment, a database from
    ``settings.database_url``, the wall clock, and the survey analysis for the dashboard."""
    settings = settings or _or_exit(_served_settings)
    if sessions is None:
        sessions = session_factory(make_engine(settings.database_url))
    app = Flask(__name__)
    app.url_map.converters["int"] = RecordIdConverter  # before any route is added
    _configure(app, settings)
    install(app, WebContext(settings=settings, sessions=sessions, clock=clock or SystemClock(),
                            vault=_or_exit(lambda: configured_vault(settings)),
                            analyse=analyse or analysis_source.CachedAnalysis()))
    csrf.init_app(app)
    login_manager.init_app(app)
    DictBabel(app, locale_selector=select_language)
    setup_templates(app)
    _register_blueprints(app)
    _limit_logins(app, settings.ratelimit_storage)
    _error_pages(app)
    if settings.trusted_proxies:
        _behind_proxies(app, settings.trusted_proxies)
    app.after_request(_security_headers)
    mount_webhooks(app)  # outermost: /twilio/... never reaches the pages' machinery
    return app


def _or_exit(load: Callable[[], T]) -> T:
    """What ``load`` reads from the environment (the settings, the phone keys) for a server that
    builds the app itself (``gunicorn 'web.app:create_app()'``): a wrong value is one line on
    stderr and exit status 4, which gunicorn reports as "App failed to load" and stops on, rather
    than a traceback and workers respawned."""
    try:
        return load()
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(APP_LOAD_ERROR) from None


SERVED = "the address a server of its own binds (gunicorn 'web.app:create_app()')"


def _served_settings() -> Settings:
    """The environment's settings for a server that builds the app itself. It may listen on any
    address and the app cannot tell which, so its session key is checked as ``minyi web --host``
    checks one off the loopback interface: never the public development key, which would let
    anyone sign a session cookie for any account (``minyi web`` checks before it builds the app)."""
    settings = load_settings()
    check_secret_key(settings, SERVED)
    return settings


def _configure(app: Flask, settings: Settings) -> None:
    secure = settings.public_url.lower().startswith("https://")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        MAX_CONTENT_LENGTH=settings.upload_max_mb * 1024 * 1024 + 64 * 1024,  # the file and the form around it
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        LOGIN_RATE_LIMIT=LOGIN_RATE_LIMIT,
        LOGIN_ACCOUNT_RATE_LIMIT=LOGIN_ACCOUNT_RATE_LIMIT,
    )


def _register_blueprints(app: Flask) -> None:
    from web.blueprints import (
        admin,
        auth,
        cases,
        concerns,
        console,
        dashboard,
        downloads,
        home,
        live,
        surveys,
        transcribe,
    )

    for module in (auth, home, console, transcribe, surveys, live, cases, dashboard, concerns, admin, downloads):
        app.register_blueprint(module.bp)


def _limit_logins(app: Flask, storage: str) -> None:
    """Flask-Limiter on the login form, failed attempts only: per client address, and per account
    name whatever the address (a guesser spread over many addresses). ``memory://`` counts per
    process; a shared store (``redis://...``) makes both limits hold across gunicorn workers and hosts."""
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage, default_limits=[], key_prefix="minyi-login")
    view = app.view_functions["auth.login"]
    for setting, key in (("LOGIN_RATE_LIMIT", get_remote_address), ("LOGIN_ACCOUNT_RATE_LIMIT", _account_name)):
        limit = limiter.limit(functools.partial(_config_value, app, setting), key_func=key, methods=["POST"],
                              deduct_when=lambda response: response.status_code == 401)
        view = limit(view)  # type: ignore[assignment]
    app.view_functions["auth.login"] = view


def _config_value(app: Flask, name: str) -> str:
    return str(app.config[name])


def _account_name() -> str:
    """The account a login form names, as :func:`office.users.find_user` matches it."""
    return "account:" + (request.form.get("username") or "").strip().lower()


def _behind_proxies(app: Flask, hops: int) -> None:
    """Trust the last ``hops`` X-Forwarded-For/-Proto/-Host entries: the client's own address then
    keys the login limit (otherwise every user behind the proxy shares one). Never set it without
    a proxy: a client could then name any address it likes."""
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _error_pages(app: Flask) -> None:
    def page(error: HTTPException) -> tuple[str, int]:
        return render_template("error.html", error=error), error.code or 500

    for code in (400, 403, 404, 405, 413, 429):
        app.register_error_handler(code, page)
    app.register_error_handler(CSRFError, page)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                       "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
    if request.endpoint != "static":  # pages, recordings and exports may hold personal data
        headers["Cache-Control"] = "no-store"  # not even send_file's no-cache: no copy in any cache
    return response
