"""The channels of a staff-placed call, named for their kind and the staff call:
``minyi-staff-<id>-<hex>`` (the staff member's phone, originated by the web),
``minyi-resident-<id>-<hex>``, ``minyi-listen-<id>-<hex>`` (a supervisor's phone, originated by the
web) and ``minyi-snoop-<id>-<hex>`` (the snoop on the resident's channel)."""

from __future__ import annotations

import re
import uuid

from ivr.channels.asterisk.options import endpoint_for

STAFF, RESIDENT, LISTEN, SNOOP = "staff", "resident", "listen", "snoop"
_LEG = re.compile(r"minyi-(staff|resident|listen|snoop)-(\d+)-[0-9a-f]+")
STAFF_RING_S = 30  # how long the staff member's (or supervisor's) own phone rings
_E164 = re.compile(r"\+\d+")


def leg_id(kind: str, staff_call_id: int) -> str:
    return f"minyi-{kind}-{staff_call_id}-{uuid.uuid4().hex[:16]}"


def leg_of(channel_id: str) -> tuple[str, int] | None:
    """(kind, staff call id) of one of our staff-call legs; None for any other channel."""
    m = _LEG.fullmatch(channel_id)
    return (m.group(1), int(m.group(2))) if m else None


def phone_endpoint(phone: str, template: str) -> str:
    """A staff member's phone as a channel: an endpoint as it is (``PJSIP/1001``), an E.164
    number through the trunk the residents are dialled on (ASTERISK_ENDPOINT)."""
    return endpoint_for(template, phone) if _E164.fullmatch(phone) else phone
