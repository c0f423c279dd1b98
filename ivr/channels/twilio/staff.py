"""Staff-placed calls through Twilio: the :class:`~calls.staff_lines.StaffLine` that rings phones.

Twilio rings a phone number, so the staff member's and the supervisor's phones (``User.phone``)
must be E.164 numbers here. :meth:`TwilioStaffLine.place` rings only the staff member; the
resident is dialled when the staff member answers (:mod:`.staff_webhooks`), both legs meet in a
conference named for the staff call (:mod:`.staff_twiml`). A refusal of Twilio's, or no answer
from it, is a :class:`~calls.staff_lines.StaffLineError` the console shows, with any number in
Twilio's message masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient

from calls.staff_lines import BridgeRequest, CallRef, ListenRequest, StaffLineError
from ivr.channels.twilio.channel import Refusal
from ivr.channels.twilio.rest import make_client
from ivr.channels.twilio.staff_rest import StaffCallRest
from ivr.channels.twilio.staff_urls import StaffCallUrls
from survey.config import Settings

_E164 = re.compile(r"\+[1-9]\d{6,14}")
GONE = frozenset({20404, 21220})  # not found; the call is not in progress (it ended)


class TwilioStaffLine:
    """Built from the settings (``ivr.channels.staff_lines``); ``http_client`` replaces the network (tests)."""

    name = "twilio"

    def __init__(self, settings: Settings, http_client: HttpClient | None = None) -> None:
        self.rest = staff_rest(settings, http_client)

    def place(self, request: BridgeRequest) -> str:
        """Ring the staff member's phone; the staff leg's CallSid."""
        number = phone_number(request.staff_endpoint)
        with refusals():
            return self.rest.place_leg(request.staff_call_id, "staff", number, request.ring_timeout_s,
                                       request.caller_id)

    def hang_up(self, call: CallRef) -> bool:
        """End both legs; their ends arrive at the status callbacks. False when Twilio has neither
        leg live any more (its ends were never reported). A refusal or no answer from Twilio is a
        :class:`StaffLineError` only if no leg could be ended: ending one releases the other."""
        ended, failure = False, None
        for sid in (call.provider_ref, call.resident_ref):
            if not sid:
                continue
            try:
                with refusals():
                    self.rest.end_leg(sid)
                ended = True
            except _Gone:
                continue
            except StaffLineError as exc:
                failure = failure or exc
        if failure is not None and not ended:
            raise failure
        return ended

    def listen(self, request: ListenRequest) -> None:
        """Ring the supervisor's phone into the call's conference, muted."""
        number = phone_number(request.supervisor_endpoint)
        with refusals():
            self.rest.add_listener(request.call.staff_call_id, number)


def staff_rest(settings: Settings, http_client: HttpClient | None = None) -> StaffCallRest:
    """The REST requests of staff calls for the configured account (the line's and the webhooks')."""
    if not settings.twilio_from:
        raise ValueError("TWILIO_FROM must be set to the number staff calls come from")
    return StaffCallRest(make_client(settings, http_client), settings.twilio_from, StaffCallUrls(settings.public_url))


def phone_number(endpoint: str) -> str:
    if not _E164.fullmatch(endpoint):
        raise StaffLineError("Twilio rings phone numbers: %(phone)r is not an E.164 number such as +8613800138000",
                             phone=endpoint)
    return endpoint


class _Gone(StaffLineError):
    """Twilio has no such live call any more (it ended, or is unknown)."""


@contextmanager
def refusals() -> Iterator[None]:
    """Twilio's refusals, and no answer from it, as a :class:`StaffLineError` (or :class:`_Gone`
    when the refusal says the call is over)."""
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as exc:
        refusal = Refusal.of(exc)
        if refusal.code in GONE or refusal.status == 404:
            raise _Gone("Twilio refused the request: %(reason)s", reason=refusal.reason) from exc
        raise StaffLineError("Twilio refused the request: %(reason)s", reason=refusal.reason) from exc
    except requests.RequestException as exc:
        raise StaffLineError("no answer from the Twilio API: %(error)s", error=str(exc)) from exc
