"""The REST requests of staff-placed calls: a leg is an outbound call, a supervisor listening in is
a muted participant of the staff call's conference.

A leg is created with its answer URL (TwiML joining the conference), its status callback for the
progress the webhooks act on, and a ring timeout; never with answering-machine detection: the staff member
hears who answered and says so. A listener is created through the Conference Participants
resource, addressed by the conference's name (Twilio accepts the friendly name where it creates
participants): muted, no beep, neither starting nor ending the conference.
"""

from __future__ import annotations

from twilio.rest import Client

from ivr.channels.twilio.staff_twiml import conference_name
from ivr.channels.twilio.staff_urls import Leg, StaffCallUrls

# The progress each leg reports ("completed" stands for every final status). Not "initiated": it
# may come before the web request that placed the call has committed the call's row.
STATUS_EVENTS = {"staff": ("answered", "completed"), "resident": ("ringing", "answered", "completed")}
LISTENER_RING_S = 30  # how long a supervisor's phone rings before the listen-in gives up


class StaffCallRest:
    """The account's REST client, the caller ID the legs come from, and the webhook URLs."""

    def __init__(self, client: Client, caller_id: str, urls: StaffCallUrls) -> None:
        self.client = client
        self.caller_id = caller_id
        self.urls = urls

    def place_leg(self, call_id: int, leg: Leg, number: str, ring_timeout_s: int, caller_id: str | None = None
                  ) -> str:
        """Ring ``number`` for ``leg`` of the staff call (from ``caller_id``, else the account's
        number); the new leg's CallSid."""
        if not 1 <= ring_timeout_s <= 600:
            raise ValueError(f"ring timeout must be 1-600 s, not {ring_timeout_s}")
        created = self.client.calls.create(
            to=number, from_=caller_id or self.caller_id, url=self.urls.answered(call_id, leg), method="POST",
            status_callback=self.urls.status(call_id, leg), status_callback_method="POST",
            status_callback_event=list(STATUS_EVENTS[leg]), timeout=ring_timeout_s)
        return str(created.sid)

    def add_listener(self, call_id: int, number: str) -> str:
        """Ring ``number`` into the staff call's conference, muted; the listener leg's CallSid."""
        participant = self.client.conferences(conference_name(call_id)).participants.create(
            from_=self.caller_id, to=number, muted=True, beep="false", start_conference_on_enter=False,
            end_conference_on_exit=False, timeout=LISTENER_RING_S)
        return str(participant.call_sid)

    def end_leg(self, call_sid: str) -> None:
        """Hang a leg up, ringing or answered (``completed`` ends a call in either state)."""
        self.client.calls(call_sid).update(status="completed")
