"""Twilio's webhooks (``/twilio/...``) as a small Flask app of their own.

A webhook is signed by Twilio and answered by :mod:`web.blueprints.twilio`; it needs none of the
web app's per-request machinery (the login manager's user loading, Babel's locale, CSRF, the login
limiter, the pages' security headers), which cost more CPU than the webhook itself. ``create_app``
therefore mounts this app in front of itself with :class:`PathDispatch`: a request under
``/twilio/`` goes here, any other to the web app, on one port (``minyi web``). Both apps share one
``extensions`` dict, so whatever is put in the web app's (``minyi``, ``minyi.twilio``, tests'
fakes) serves the webhooks too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from ivr.channels.twilio.urls import MOUNT
from web.blueprints.twilio import Services, bp

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
    return app


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
