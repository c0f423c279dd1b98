"""Twilio's webhooks (``/twilio/...``) as a small Flask app of their own.

A webhook is signed by Twilio and answered by :mod:`web.blueprints.twilio`; it needs none of the
web app's per-request machinery (the login manager's user loading, Babel's locale, CSRF, the login
limiter, the pages' security headers), which cost more CPU than the webhook itself. ``create_app``
therefore mounts this app in front of itself with :class:`PathDispatch`: a request under
``/twilio/`` goes here, any other to the web app, on one port (``minyi web``). Both apps share one
``extensions`` dict, so whatever is put in the web app's (``minyi``, ``minyi.twilio``, tests'
fakes) serves the webhooks too.

The call's webhooks (``CALL_HOOKS``: a POST of a form, Twilio's every request during a call) are
answered by :class:`CallHookWsgi` in front of the Flask app, without Flask's per-request work
(request and app contexts, URL matching, the response object), which cost as much CPU as the
webhook's own database work: the same signature check, once, the same answers, the same TwiML.
Anything else (prompt audio, staff calls, another method or content type, a body over
``MAX_WEBHOOK_BYTES``) goes through Flask as before.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.datastructures import MultiDict

from ivr.channels.twilio.urls import MOUNT
from web.blueprints.twilio import (
    CALL_HOOKS,
    FORGED,
    TEXT,
    Services,
    answer_call,
    bp,
    signed,
    webhooks,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WEBHOOK_APP = "minyi.webhook_app"  # the web app's extensions: its webhook app
MAX_WEBHOOK_BYTES = 64 * 1024  # a Twilio form is a few hundred bytes


def create_webhook_app(services: Services) -> Flask:
    """The webhook app alone, on ``services`` (``app.extensions["minyi"]``, see the blueprint)."""
    app = Flask(__name__, static_folder=None)  # its paths are all under /twilio/
    app.config["MAX_CONTENT_LENGTH"] = MAX_WEBHOOK_BYTES
    app.extensions["minyi"] = services
    app.register_blueprint(bp, url_prefix=MOUNT)
    app.wsgi_app = CallHookWsgi(app, app.wsgi_app)  # type: ignore[method-assign]
    return app


FORM = "application/x-www-form-urlencoded"


class CallHookWsgi:
    """A WSGI app answering the call's webhooks (``CALL_HOOKS``) for ``app`` itself, and sending
    every other request to ``fallback`` (``app``'s Flask handling)."""

    def __init__(self, app: Flask, fallback: WSGIApplication) -> None:
        self.app = app
        self.fallback = fallback
        self.hooks = {MOUNT + path: hook for path, hook in CALL_HOOKS.items()}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        hook = self.hooks.get(path) if environ.get("REQUEST_METHOD") == "POST" else None
        form = _form(environ) if hook is not None else None
        if hook is None or form is None:
            return self.fallback(environ, start_response)
        raw_query = environ.get("QUERY_STRING", "").encode("latin-1")
        if not signed(self.app.extensions["minyi"].settings, path, raw_query, form,
                      environ.get("HTTP_X_TWILIO_SIGNATURE", "")):
            self.app.logger.warning("Twilio webhook %s: bad or missing signature", path)
            return _reply(start_response, 403, FORGED, TEXT)
        try:
            status, body, mimetype = answer_call(webhooks(self.app.extensions), hook, _args(raw_query), form)
        except Exception:
            if self.app.config["PROPAGATE_EXCEPTIONS"] or self.app.testing or self.app.debug:
                raise
            self.app.logger.exception("Exception on %s [POST]", path)  # as Flask logs an unhandled error
            return _reply(start_response, 500, "Internal Server Error\n", TEXT)
        return _reply(start_response, status, body, mimetype)


def _form(environ: WSGIEnvironment) -> MultiDict[str, str] | None:
    """The posted form as Werkzeug parses one (``request.form``), or None when the request is not
    a form of known length within ``MAX_WEBHOOK_BYTES`` in UTF-8 (left to Flask, which refuses it
    as it always has). A body read here is put back for Flask."""
    if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != FORM:
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or int(length) > MAX_WEBHOOK_BYTES:
        return None
    body = environ["wsgi.input"].read(int(length))
    try:
        text = body.decode()
    except UnicodeDecodeError:
        environ["wsgi.input"] = io.BytesIO(body)
        return None
    return MultiDict(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))


def _args(raw_query: bytes) -> MultiDict[str, str]:
    """The query string's arguments as Werkzeug parses them (``request.args``)."""
    return MultiDict(parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True, errors="werkzeug.url_quote"))


_REASONS = {200: "200 OK", 204: "204 No Content", 400: "400 Bad Request", 403: "403 Forbidden", 404: "404 Not Found",
            409: "409 Conflict", 500: "500 Internal Server Error"}


def _reply(start_response: StartResponse, status: int, body: str, mimetype: str | None) -> list[bytes]:
    data = body.encode()
    headers = [("Content-Length", str(len(data)))]
    if mimetype is not None:
        headers.insert(0, ("Content-Type", f"{mimetype}; charset=utf-8"))
    start_response(_REASONS.get(status, f"{status} Unknown"), headers)
    return [data]


class PathDispatch:
    """A WSGI app sending requests whose path starts with ``prefix`` to ``mounted``, the others to
    ``rest`` (paths are not rewritten)."""

    def __init__(self, prefix: str, mounted: WSGIApplication, rest: WSGIApplication) -> None:
        self.prefix = prefix
        self.mounted = mounted
        self.rest = rest

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self.mounted if environ.get("PATH_INFO", "").startswith(self.prefix) else self.rest
        return app(environ, start_response)


def mount_webhooks(app: Flask) -> Flask:
    """Serve ``/twilio/...`` from a webhook app sharing ``app``'s extensions; returns that app."""
    hooks = create_webhook_app(app.extensions["minyi"])
    hooks.extensions = app.extensions
    app.extensions[WEBHOOK_APP] = hooks
    wrapped: Any = PathDispatch(MOUNT + "/", hooks.wsgi_app, app.wsgi_app)
    app.wsgi_app = wrapped  # type: ignore[method-assign]
    return hooks
