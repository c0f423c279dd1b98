"""The webhook URLs of staff-placed calls (``docs/staff-calls.md``), shared by the line, which hands
them to Twilio, and the Flask blueprint, which serves them.

A staff call has two legs, each a Twilio call of its own: the staff member's phone and the
resident's (a supervisor listening in is a conference participant, whose progress nothing waits
for). Every URL names the staff call by its id and the leg by name; as for the interview webhooks,
only ASCII ids travel in a URL.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from ivr.channels.twilio.urls import MOUNT, public_base

ANSWERED = "/staff/answered"  # a leg was answered: TwiML that joins it to the call's conference
BRIDGE = "/staff/bridge"  # the resident heard the consent notice: TwiML that joins the conference
STATUS = "/staff/status"  # call progress of a leg: initiated, ringing, answered, completed (or why not)
RECORDING = "/staff/recording"  # the conference's quality-control recording is ready

Leg = Literal["staff", "resident"]
LEGS: tuple[Leg, ...] = ("staff", "resident")


class StaffCallUrls:
    """Absolute webhook URLs of staff calls under the public base URL (``MINYI_PUBLIC_URL``)."""

    def __init__(self, public_url: str) -> None:
        self.base = public_base(public_url)

    def _url(self, path: str, call_id: int, leg: Leg | None = None) -> str:
        query: dict[str, int | str] = {"call": call_id}
        if leg is not None:
            query["leg"] = leg
        return f"{self.base}{MOUNT}{path}?{urlencode(query)}"

    def answered(self, call_id: int, leg: Leg) -> str:
        return self._url(ANSWERED, call_id, leg)

    def bridge(self, call_id: int) -> str:
        return self._url(BRIDGE, call_id, "resident")

    def status(self, call_id: int, leg: Leg) -> str:
        return self._url(STATUS, call_id, leg)

    def recording(self, call_id: int) -> str:
        """recordingStatusCallback of the conference (the whole bridged conversation)."""
        return self._url(RECORDING, call_id)
