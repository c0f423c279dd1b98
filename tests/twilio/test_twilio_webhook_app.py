"""``create_app`` serves ``/twilio/...`` from the webhook app (``web.webhook_app``) on the same
port: signatures checked once, forgeries refused, and none of the pages' machinery on the way
(no session cookie, no page headers), while every other path still reaches the web app."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask, request
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator
from twilio_caller import Dial

from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import VirtualClock
from survey.config import Settings
from web.app import create_app
from web.webhook_app import WEBHOOK_APP

SID = "CA" + "5" * 32


@pytest.fixture
def web(settings: Settings, sessions: sessionmaker[Session], clock: VirtualClock) -> Flask:
    return create_app(settings, sessions, clock)


def _post(web: Flask, url: str, form: dict[str, str], signature: str) -> tuple[int, dict[str, str]]:
    response = web.test_client().post(url, data=form, headers={"X-Twilio-Signature": signature})
    return response.status_code, dict(response.headers)


def test_a_forged_or_missing_signature_is_refused(web: Flask, dial: Dial, urls: WebhookUrls) -> None:
    url, form = urls.status(dial().attempt_id), {"CallSid": SID, "CallStatus": "ringing"}
    forged = RequestValidator("not-the-auth-token").compute_signature(url, form)
    for signature in (forged, ""):
        status, headers = _post(web, url, form, signature)
        assert status == 403
        assert "Content-Security-Policy" not in headers and "Set-Cookie" not in headers


def test_a_signed_webhook_is_served_with_one_signature_check(web: Flask, dial: Dial, urls: WebhookUrls,
                                                             settings: Settings,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url, form = urls.status(dial().attempt_id), {"CallSid": SID, "CallStatus": "ringing"}
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(url, form)
    computed: list[str] = []
    compute = RequestValidator.compute_signature
    monkeypatch.setattr(RequestValidator, "compute_signature",
                        lambda self, *args: computed.append(args[0]) or compute(self, *args))
    status, headers = _post(web, url, form, signature)
    assert (status, computed) == (204, [url])
    assert "Content-Security-Policy" not in headers and "Set-Cookie" not in headers


def test_the_pages_are_still_the_web_apps(web: Flask) -> None:
    response = web.test_client().get("/login")
    assert response.status_code == 200 and "Content-Security-Policy" in response.headers
    assert not [rule for rule in web.url_map.iter_rules() if rule.rule.startswith("/twilio")]
    assert [rule for rule in web.extensions[WEBHOOK_APP].url_map.iter_rules() if rule.rule.startswith("/twilio")]


def test_the_calls_webhooks_are_answered_before_flasks_request_machinery(
        app: Flask, dial: Dial, urls: WebhookUrls, settings: Settings) -> None:
    """A call's webhooks are answered in front of Flask (its request handling cost as much CPU as
    the webhook's database work); prompt audio, and a body that is not a form, still go through it."""
    through_flask: list[str] = []
    app.before_request(lambda: through_flask.append(request.path) and None)
    url, form = urls.status(dial().attempt_id), {"CallSid": SID, "CallStatus": "ringing"}
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(url, form)
    assert _post(app, url, form, signature)[0] == 204
    assert _post(app, url, form, "forged=")[0] == 403
    assert through_flask == []
    assert app.test_client().get("/twilio/prompts/q/zh/none.wav").status_code == 404
    not_a_form = app.test_client().post(url, json=form, headers={"X-Twilio-Signature": signature})
    assert not_a_form.status_code == 403  # Flask's way: the signature covers a form, and there is none
    assert through_flask == ["/twilio/prompts/q/zh/none.wav", urlsplit(url).path]
