"""Placing outbound interview calls through Twilio's REST API.

``place_call`` creates the call and returns ``None``: the call's end arrives later at the status
callback, which applies it with ``dialer.outcomes.apply_result``. A call Twilio refuses to create
comes back at once as a :class:`CallResult`: ``NON_WORKING`` for an invalid number, else
``FAILED`` with the reason (and, for a rate limit or a server error, a ``hangup_cause`` that
makes the dialer's pacer back off); ``UNKNOWN`` when Twilio did not answer at all, so that the
real result, should the call exist after all, still counts when it arrives.

The caller ID is the dialer's (``CallRequest.caller_id``, from its rotation), else ``TWILIO_FROM``.
Before a round, ``preflight`` asks Twilio for the account and for each of those caller IDs, so
that refused credentials or an unknown caller ID stop the round before its first call.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from datetime import datetime

import httpx
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.rest import Client

from dialer.policy import DialPolicy
from dialer.protocol import CallRequest, CallResult, ChannelNotReady
from ivr.channels.twilio.fetch import BackgroundFetch, RecordingFetcher
from ivr.channels.twilio.pacing import Backoff, TokenBucket
from ivr.channels.twilio.rest import make_client
from ivr.channels.twilio.urls import WebhookUrls
from survey.clock import Clock
from survey.config import Settings
from survey.models import CallAttempt, Survey
from survey.phones import mask
from survey.vocabulary import ATTEMPT_ENDED, ATTEMPT_ORDER, CallStatus

log = logging.getLogger(__name__)

RATE_LIMITED = 20429  # too many concurrent REST requests: safe to retry, nothing was created
NON_WORKING_ERRORS = frozenset({21211, 21214, 21217})  # invalid 'To', unreachable, not a valid number
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
LIVE = tuple(s for s in ATTEMPT_ORDER if s not in ATTEMPT_ENDED)
_NUMBER = re.compile(r"\+\d{10,15}")  # a whole E.164 number, as the calls were created with


@dataclass(frozen=True)
class Refusal:
    """An error answer of the REST API, in either of twilio-python's exception shapes."""

    status: int
    code: int | None
    message: str

    @classmethod
    def of(cls, exc: TwilioRestException | TwilioServiceException) -> Refusal:
        """Twilio's messages name the number ("The 'To' number +86... is not valid"): it is masked,
        since the reason is logged and kept with the attempt."""
        if isinstance(exc, TwilioServiceException):
            return cls(exc.status, exc.code, _masked(exc.detail or exc.title))
        return cls(exc.status, exc.code, _masked(exc.msg))

    @property
    def rate_limited(self) -> bool:
        return self.code == RATE_LIMITED or self.status == 429

    @property
    def pushback(self) -> str | None:
        """The cause that makes the dialer's pacer slow down (``dialer.pacer.PUSHBACK_CAUSES``)."""
        if self.rate_limited:
            return "rate_limited"
        return str(self.status) if self.status >= 500 else None

    @property
    def reason(self) -> str:
        return f"Twilio error {self.code or self.status}: {self.message}"


def _masked(message: str) -> str:
    return _NUMBER.sub(lambda m: mask(m.group()), str(message))


class TwilioChannel:
    """The Twilio telephony channel.

    ``sessions`` counts live calls (the status callbacks run in the web process, so the database
    is the only place that knows when a call ended) and keeps the recordings' downloads. ``http_client`` and ``media``
    replace the network (tests: the REST API, recordings' media); ``record_calls`` asks Twilio to
    record whole calls (default ``settings.record_calls``, ``MINYI_RECORD_CALLS``); ``cps`` defaults to ``settings.twilio_cps``. At the dialer's housekeeping
    it brings recordings home (:mod:`.fetch`).
    """

    name = "twilio"

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock, *,
                 http_client: HttpClient | None = None, record_calls: bool | None = None, cps: float | None = None,
                 backoff: Backoff | None = None, rng: random.Random | None = None,
                 media: httpx.BaseTransport | None = None) -> None:
        if not settings.twilio_from:
            raise ValueError("TWILIO_FROM must be set to the number calls come from")
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.client: Client = make_client(settings, http_client)
        self.urls = WebhookUrls(settings.public_url)
        self.record_calls = settings.record_calls if record_calls is None else record_calls
        self.bucket = TokenBucket(settings.twilio_cps if cps is None else cps, clock)
        self.backoff = backoff or Backoff(rng=rng)
        self.recordings_home = BackgroundFetch(lambda: RecordingFetcher(settings, sessions, clock, transport=media))

    def housekeeping(self) -> None:
        """At the dialer's housekeeping: bring recordings home (in the background, :mod:`.fetch`)."""
        self.recordings_home.start()

    def place_call(self, request: CallRequest) -> CallResult | None:
        started = self.clock.now()
        params = self.call_parameters(request)
        delays = self.backoff.delays()
        while True:
            self.bucket.take()
            try:
                self.client.calls.create(**params)
                return None
            except (TwilioRestException, TwilioServiceException) as exc:
                refusal = Refusal.of(exc)
                delay = next(delays, None) if refusal.rate_limited else None
                if delay is None:
                    return self._refused(request, refusal, started)
                log.info("attempt %s: Twilio rate limit, retrying in %.1f s", request.attempt_id, delay)
                self.clock.sleep(delay)
            except requests.RequestException as exc:
                log.warning("attempt %s: no answer from Twilio: %s", request.attempt_id, exc)
                return CallResult(CallStatus.UNKNOWN, started, self.clock.now(),
                                  error=f"no answer from the Twilio API: {exc}")

    def preflight(self, survey_id: int) -> None:
        """Twilio accepts the credentials, the account is active, and every caller ID the survey's
        calls may come from is a number of the account or one of its verified caller IDs."""
        try:
            account = self.client.api.v2010.accounts(self.settings.twilio_account_sid).fetch()
            unknown = [n for n in self._caller_ids(survey_id) if not self._owns(n)]
        except (TwilioRestException, TwilioServiceException) as exc:
            refusal = Refusal.of(exc)
            hint = " (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)" if refusal.status in (401, 403) else ""
            raise ChannelNotReady("Twilio refused the channel's check: %(reason)s%(hint)s",
                                  reason=refusal.reason, hint=hint) from None
        except requests.RequestException as exc:
            raise ChannelNotReady("no answer from the Twilio API: %(error)s", error=str(exc)) from None
        if account.status != "active":
            raise ChannelNotReady("the Twilio account is %(status)s, not active", status=account.status)
        if unknown:
            raise ChannelNotReady("caller ID %(numbers)s is neither a number of the Twilio account nor one of its "
                                  "verified caller IDs", numbers=", ".join(unknown))

    def _caller_ids(self, survey_id: int) -> list[str]:
        """TWILIO_FROM and the caller IDs of the survey's trunks."""
        with self.sessions() as session:
            survey = session.get(Survey, survey_id)
            trunks = DialPolicy.from_survey(survey).pacing.trunks if survey is not None else ()
        return sorted({self.settings.twilio_from, *(n for trunk in trunks for n in trunk.caller_ids)})

    def _owns(self, number: str) -> bool:
        return bool(self.client.incoming_phone_numbers.list(phone_number=number, limit=1)
                    or self.client.outgoing_caller_ids.list(phone_number=number, limit=1))

    def call_parameters(self, request: CallRequest) -> dict[str, object]:
        """The ``calls.create`` keyword arguments for ``request``."""
        if not 1 <= request.ring_timeout_s <= 600:
            raise ValueError(f"ring timeout must be 1-600 s, not {request.ring_timeout_s}")
        attempt = request.attempt_id
        params: dict[str, object] = {
            "to": request.number, "from_": request.caller_id or self.settings.twilio_from,
            "url": self.urls.start(attempt),
            "method": "POST", "status_callback": self.urls.status(attempt), "status_callback_method": "POST",
            "status_callback_event": list(STATUS_EVENTS), "timeout": request.ring_timeout_s,
            "machine_detection": "Enable", "async_amd": "true", "async_amd_status_callback": self.urls.amd(attempt),
            "async_amd_status_callback_method": "POST",
        }
        if self.record_calls:
            params.update(record=True, recording_status_callback=self.urls.recording(attempt, whole_call=True),
                          recording_status_callback_method="POST")
        return params

    def _refused(self, request: CallRequest, refusal: Refusal, started: datetime) -> CallResult:
        log.warning("attempt %s: call not created: %s", request.attempt_id, refusal.reason)
        status = CallStatus.NON_WORKING if refusal.code in NON_WORKING_ERRORS else CallStatus.FAILED
        return CallResult(status, started, self.clock.now(), hangup_cause=refusal.pushback, error=refusal.reason)

    def lines_in_use(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(CallAttempt).where(
                CallAttempt.channel == self.name, CallAttempt.status.in_(LIVE))) or 0)
