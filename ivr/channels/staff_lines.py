"""The staff lines (:class:`calls.staff_lines.StaffLine`) by provider name, imported only when asked
for, each built from the settings: ``asterisk`` asks the Stasis app that ``minyi ari`` serves to
place the call over ARI; ``twilio`` places it through Twilio's REST API."""

from __future__ import annotations

import importlib

from calls.staff_lines import StaffLine, StaffLineError
from survey.config import Settings

STAFF_LINES = {
    "asterisk": "ivr.channels.asterisk.staff:AsteriskStaffLine",
    "twilio": "ivr.channels.twilio.staff:TwilioStaffLine",
}


def open_staff_line(name: str, settings: Settings) -> StaffLine:
    """The provider's staff line; :class:`StaffLineError` when there is none by that name or it
    cannot be built (a provider library missing, settings missing)."""
    if name not in STAFF_LINES:
        raise StaffLineError("no staff-call provider %(provider)r", provider=name)
    module_name, attr = STAFF_LINES[name].split(":")
    try:
        build = getattr(importlib.import_module(module_name), attr)
    except (ModuleNotFoundError, AttributeError):
        raise StaffLineError("the staff-call provider %(provider)s is not available in this build",
                             provider=name) from None
    try:
        line: StaffLine = build(settings)
    except ValueError as exc:
        raise StaffLineError("the staff-call provider %(provider)s cannot start: %(error)s", provider=name,
                             error=str(exc)) from None
    return line
