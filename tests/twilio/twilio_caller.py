"""Playing Twilio's part in a call against the webhooks: signed form posts, following the action
URLs of the TwiML each reply returns, and checking every TwiML document against the schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from survey.clock import Clock
from survey.config import Settings


@dataclass
class Services:
    """What the app provides the blueprint (``app.extensions["minyi"]``)."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock


@dataclass(frozen=True)
class Dialled:
    """A case and the call attempt the dialer just made on it."""

    case_id: int
    attempt_id: int


Dial = Callable[..., Dialled]


@dataclass
class Call:
    client: FlaskClient
    settings: Settings
    schema: etree.XMLSchema
    attempt_id: int
    sid: str
    twiml: etree._Element | None = None
    log: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)  # (url, form, TwiML)

    # -- transport ------------------------------------------------------------------------

    def post(self, url: str, form: dict[str, str], *, signature: str | None = None) -> TestResponse:
        """POST ``form`` to the public ``url`` signed as Twilio signs it (or with ``signature``)."""
        base = self.settings.public_url
        assert url.startswith(base + "/"), url
        assert url.isascii(), f"webhook URL is not ASCII: {url}"
        if signature is None:
            signature = RequestValidator(self.settings.twilio_auth_token).compute_signature(url, form)
        return self.client.post(url[len(base):], data=form, headers={"X-Twilio-Signature": signature})

    def fetch(self, url: str, form: dict[str, str]) -> etree._Element:
        """POST and read the TwiML reply, which must be valid against Twilio's schema."""
        form = {"CallSid": self.sid, **form}
        response = self.post(url, form)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/xml"
        self.log.append((url, form, response.data))
        doc = etree.fromstring(response.data)
        assert self.schema.validate(doc), f"{self.schema.error_log}\n{response.data.decode()}"
        self.twiml = doc
        return doc

    def notify(self, url: str, form: dict[str, str]) -> TestResponse:
        response = self.post(url, {"CallSid": self.sid, **form})
        assert response.status_code == 204, response.get_data(as_text=True)
        return response

    # -- what happens on the line --------------------------------------------------------

    def answer(self, start_url: str) -> etree._Element:
        return self.fetch(start_url, {"CallStatus": "in-progress", "Direction": "outbound-api"})

    def press(self, keys: str) -> etree._Element:
        """Keys pressed at the current ``<Gather>``; "" is a timeout."""
        return self.fetch(self.gather_action(), {"Digits": keys, "CallStatus": "in-progress"})

    def speak(self, recording_url: str, seconds: int, recording_sid: str) -> etree._Element:
        record = self._only("Record")
        return self.fetch(record.get("action"), {"RecordingUrl": recording_url, "RecordingDuration": str(seconds),
                                                 "RecordingSid": recording_sid, "Digits": "#"})

    def stay_silent_at_the_beep(self) -> etree._Element:
        """Nothing recorded: Twilio skips the action and follows the ``<Redirect>``."""
        self._only("Record")
        return self.fetch(self._only("Redirect").text or "", {"CallStatus": "in-progress"})

    # -- reading the current TwiML -------------------------------------------------------

    def gather_action(self) -> str:
        gather = self._only("Gather")
        assert gather.get("actionOnEmptyResult") == "true" and gather.get("input") == "dtmf"
        return gather.get("action") or ""

    def spoken(self) -> list[str]:
        assert self.twiml is not None
        return [el.text or "" for el in self.twiml.iter("Say")]

    def verbs(self) -> list[str]:
        assert self.twiml is not None
        return [el.tag for el in self.twiml]

    def _only(self, tag: str) -> etree._Element:
        assert self.twiml is not None
        found = self.twiml.findall(tag)
        assert len(found) == 1, f"expected one <{tag}> in {etree.tostring(self.twiml).decode()}"
        return found[0]
