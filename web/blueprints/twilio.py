"""Twilio's webhooks: a thin layer over :mod:`ivr.channels.twilio.webhooks`.

Mounting: ``web.webhook_app`` serves it in an app of its own (no login manager, Babel, CSRF or
limiter: Twilio sends no CSRF token, and every request is signature-checked instead), which
``web.app.create_app`` puts in front of the web app::

    app.register_blueprint(bp, url_prefix="/twilio")

Dependencies: ``app.extensions["minyi"]`` is an object with the attributes ``settings``
(:class:`survey.config.Settings`: ``public_url``, ``twilio_account_sid``, ``twilio_auth_token``,
``twilio_api_base_url``, ``twilio_operator_number``, ``prompts_dir``), ``sessions`` (a SQLAlchemy
``sessionmaker``) and ``clock`` (:class:`survey.clock.Clock`) — ``web.context.WebContext`` is one.
From them the blueprint builds, on first use, its
:class:`~ivr.channels.twilio.webhooks.CallWebhooks` (with a REST client to hang up on answering
machines, and the recorded prompts in ``prompts_dir``) and keeps it in
``app.extensions["minyi.twilio"]``; an app (a test, the benchmark) may put its own there
beforehand, e.g. with other voices.

The webhooks of staff-placed calls (``/twilio/staff/...``, :mod:`ivr.channels.twilio.staff_webhooks`)
are built the same way, with the app's phone vault (``vault``: the resident is dialled when the staff
member answers), and kept in ``app.extensions["minyi.twilio.staff"]``.

Every webhook must carry a valid ``X-Twilio-Signature`` for the public URL (``MINYI_PUBLIC_URL``
+ path + raw query string, so it holds behind a TLS proxy), else 403. A malformed request gets
400 with the reason, an unknown attempt 404. Each request is its own transaction, committed
before the reply is sent. ``GET /twilio/prompts/...`` serves recorded prompt audio to
``<Play>`` without a signature (public content).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from flask import Blueprint, Response, current_app, request, send_file
from sqlalchemy.orm import Session, sessionmaker
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator

from ivr.channels.twilio import staff_urls, urls
from ivr.channels.twilio.audio import PromptRecordings
from ivr.channels.twilio.params import WebhookError
from ivr.channels.twilio.rest import hang_up, make_client
from ivr.channels.twilio.signature import signed_by_twilio
from ivr.channels.twilio.staff import staff_rest
from ivr.channels.twilio.staff_twiml import StaffTwiml
from ivr.channels.twilio.staff_webhooks import StaffCallWebhooks
from ivr.channels.twilio.twiml import TwimlRenderer
from ivr.channels.twilio.webhooks import CallWebhooks
from survey.clock import Clock
from survey.config import Settings
from survey.phones import PhoneVault

bp = Blueprint("twilio", __name__, url_prefix=urls.MOUNT)

EXTENSION = "minyi.twilio"
STAFF_EXTENSION = "minyi.twilio.staff"


class Services(Protocol):
    """What ``app.extensions["minyi"]`` must provide (``web.context.WebContext`` does)."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock


def build_webhooks(services: Services, http_client: HttpClient | None = None) -> CallWebhooks:
    """The webhooks for the app's ``settings``, ``sessions`` and ``clock``; ``http_client``
    replaces the network under the REST client (tests, benchmarks)."""
    settings = services.settings
    client = make_client(settings, http_client)
    renderer = TwimlRenderer(urls.WebhookUrls(settings.public_url), operator_number=settings.twilio_operator_number,
                             voices={"zh": settings.twilio_voice_zh, "en": settings.twilio_voice_en})
    recordings = PromptRecordings(Path(settings.prompts_dir), settings.public_url)
    return CallWebhooks(services.sessions, services.clock, renderer, lambda sid: hang_up(client, sid), recordings,
                        recorded_calls=services.settings.record_calls)


def build_staff_webhooks(services: Services, vault: PhoneVault,
                         http_client: HttpClient | None = None) -> StaffCallWebhooks:
    """The staff-call webhooks for the app's services and phone vault; ``http_client`` as above."""
    settings = services.settings
    twiml = StaffTwiml(staff_urls.StaffCallUrls(settings.public_url),
                       voices={"zh": settings.twilio_voice_zh, "en": settings.twilio_voice_en})
    recordings = PromptRecordings(Path(settings.prompts_dir), settings.public_url)
    return StaffCallWebhooks(services.sessions, services.clock, twiml, staff_rest(settings, http_client), vault,
                             recordings)


def _staff_webhooks() -> StaffCallWebhooks:
    hooks: StaffCallWebhooks | None = current_app.extensions.get(STAFF_EXTENSION)
    if hooks is None:
        context = current_app.extensions["minyi"]
        hooks = current_app.extensions[STAFF_EXTENSION] = build_staff_webhooks(context, context.vault)
    return hooks


def webhooks(extensions: dict[str, Any]) -> CallWebhooks:
    """The app's call webhooks (its ``extensions``), built on first use."""
    hooks: CallWebhooks | None = extensions.get(EXTENSION)
    if hooks is None:
        hooks = extensions[EXTENSION] = build_webhooks(extensions["minyi"])
    return hooks


@bp.before_request
def _check_signature() -> Response | None:
    if request.endpoint == "twilio.prompt":  # <Play> fetches public prompt audio
        return None
    if not signed(current_app.extensions["minyi"].settings, request.path, request.query_string, request.form,
                  request.headers.get("X-Twilio-Signature", "")):
        current_app.logger.warning("Twilio webhook %s: bad or missing signature", request.path)
        return Response(FORGED, 403, mimetype=TEXT)
    return None


FORGED = "invalid X-Twilio-Signature\n"


def signed(settings: Settings, path: str, raw_query: bytes, form: Mapping[str, str], signature: str) -> bool:
    """Whether Twilio signed this request (the public URL of ``path`` and ``raw_query``, and ``form``)."""
    url = urls.signed_url(settings.public_url, path, raw_query)
    return bool(settings.twilio_auth_token) and signed_by_twilio(_validator(settings.twilio_auth_token), url, form,
                                                                 signature)


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


CallHook = Callable[[CallWebhooks, Mapping[str, str], Mapping[str, str]], str | None]
# the call's webhooks under the mount: what answers each (TwiML, or None: 204 No Content)
CALL_HOOKS: dict[str, CallHook] = {
    urls.START: CallWebhooks.start, urls.GATHER: CallWebhooks.gather, urls.RECORDED: CallWebhooks.recorded,
    urls.DIALED: CallWebhooks.dialed, urls.RECORDING: CallWebhooks.recording, urls.STATUS: CallWebhooks.status,
    urls.AMD: CallWebhooks.amd,
}


XML, TEXT = "application/xml", "text/plain"


def answer_call(hooks: CallWebhooks, hook: CallHook, query: Mapping[str, str],
                form: Mapping[str, str]) -> tuple[int, str, str | None]:
    """The HTTP status, body and its mimetype (TwiML; the reason of a refusal; None: no body) of a
    signed call webhook."""
    try:
        twiml = hook(hooks, query, form)
    except WebhookError as error:
        return error.status, error.message + "\n", TEXT
    return (200, twiml, XML) if twiml is not None else (204, "", None)


@bp.errorhandler(WebhookError)
def _bad_request(error: WebhookError) -> Response:
    return Response(error.message + "\n", error.status, mimetype="text/plain")


@bp.get(urls.PROMPTS + "/<questionnaire_id>/<language>/<name>")
def prompt(questionnaire_id: str, language: str, name: str) -> Response:
    hooks: CallWebhooks | None = current_app.extensions.get(EXTENSION)
    if hooks is not None and hooks.recordings is not None:
        recordings = hooks.recordings
    else:  # serving audio needs no Twilio account, so do not build the REST client for it
        settings: Settings = current_app.extensions["minyi"].settings
        recordings = PromptRecordings(Path(settings.prompts_dir), settings.public_url)
    path = recordings.file(questionnaire_id, language, name)
    if path is None:
        return Response("no such prompt recording\n", 404, mimetype="text/plain")
    return send_file(path, mimetype="audio/wav", max_age=3600)


def _call_route(path: str, hook: CallHook) -> None:
    def view() -> Response:
        status, body, mimetype = answer_call(webhooks(current_app.extensions), hook, request.args, request.form)
        return Response(body, status, mimetype=mimetype) if mimetype else Response(status=status)

    bp.add_url_rule(path, endpoint=path.rsplit("/", 1)[1], view_func=view, methods=["POST"])


for _path, _hook in CALL_HOOKS.items():
    _call_route(_path, _hook)


@bp.post(staff_urls.ANSWERED)
def staff_answered() -> Response:
    return Response(_staff_webhooks().answered(request.args, request.form), 200, mimetype="application/xml")


@bp.post(staff_urls.BRIDGE)
def staff_bridge() -> Response:
    return Response(_staff_webhooks().bridge(request.args, request.form), 200, mimetype="application/xml")


@bp.post(staff_urls.STATUS)
def staff_status() -> Response:
    _staff_webhooks().status(request.args, request.form)
    return Response(status=204)


@bp.post(staff_urls.RECORDING)
def staff_recording() -> Response:
    _staff_webhooks().recording(request.args, request.form)
    return Response(status=204)
