"""A follow-up task's note as people read it.

The services write a task's note in English, one line per event: the reason the task was opened
(``dialer.outcomes``, ``calls.interviews``, ``calls.callbacks``, ``office.concerns``,
``calls.visits``) and, for each thing staff did, ``[<UTC stamp> UTC <user>] <outcome>: <text>``
(``calls.staff``). A page shows each line in its language, stamped in the centre's zone; what a
person typed is shown as typed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from survey.clock import to_local
from web.context import centre_zone
from web.labels import CONSOLE_OUTCOMES

STAMPED = re.compile(r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d) UTC (?P<who>\S+)\] ?(?P<rest>.*)$")
OUTCOME_LINE = re.compile(r"^(?P<outcome>[a-z_]+)(?:: (?P<text>.*))?$", re.S)
SYSTEM: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^resident asked for a person during the IVR interview$"),
     _l("The resident asked for a person during the automated interview.")),
    (re.compile(r"^the interview stopped part-way and the dialer's attempts are used up: finish it in CATI$"),
     _l("The interview stopped part-way and the dialer's attempts are used up: finish it by telephone.")),
    (re.compile(r"^the resident hung up in the introduction (?:until|and) the attempts ran out: one conversion call$"),
     _l("The resident hung up in the introduction and the attempts ran out: one conversion call.")),
    (re.compile(r"^operator requested at start$"), _l("Asked for a person before the first question.")),
    (re.compile(r"^operator requested at (?P<question>\S+)$"), _l("Asked for a person at question %(question)s.")),
    (re.compile(r"^回访 concern #(?P<id>\d+)$"), _l("Revisit (回访) of concern #%(id)s.")),
    (re.compile(r"^callback agreed with (?P<name>.+)$"), _l("Callback agreed with %(name)s.")),
    (re.compile(r"^door-to-door visit$"), _l("Door-to-door visit")),
)


@dataclass(frozen=True)
class NoteLine:
    at: str  # the centre's wall time, or "" for the line that opened the task
    who: str
    text: str


def _system(line: str) -> str:
    for pattern, message in SYSTEM:
        found = pattern.match(line)
        if found:
            return str(message) % found.groupdict() if found.groupdict() else str(message)
    return line


def _staff_line(rest: str) -> str:
    found = OUTCOME_LINE.match(rest)
    if found and found.group("outcome") in CONSOLE_OUTCOMES:
        named = str(CONSOLE_OUTCOMES[found.group("outcome")])
        return f"{named}: {found.group('text')}" if found.group("text") else named
    return rest


def note_lines(note: str | None) -> list[NoteLine]:
    """The lines of a task's note, oldest first."""
    lines = []
    for line in (note or "").splitlines():
        stamped = STAMPED.match(line)
        if stamped:
            stored = datetime.strptime(stamped.group("at"), "%Y-%m-%d %H:%M")  # naive UTC, as stored times are
            at = to_local(stored, centre_zone()).strftime("%Y-%m-%d %H:%M")
            lines.append(NoteLine(at, stamped.group("who"), _staff_line(stamped.group("rest"))))
        elif line.strip():
            lines.append(NoteLine("", "", _system(line.strip())))
    return lines

