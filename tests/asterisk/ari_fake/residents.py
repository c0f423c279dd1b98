"""Scripted residents: how a dialled number answers, and what the person does at each prompt.

A resident reacts to what it hears: each playback that starts on its channel gets the reply
``by_prompt`` holds for its last prompt (a person answering the question asked, however often it
is asked), else the next :class:`Reply` of ``replies`` (one playback per engine step, however many
prompts it chains). A script that runs out leaves the resident listening until the app hangs up. Times are call
seconds; the fake scales them to wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Hang-up causes (Q.850 numbers, Asterisk's cause_txt) for calls that are never answered.
CAUSES = {
    "busy": (17, "User busy"),
    "no_answer": (19, "No answer"),
    "unallocated": (1, "Unallocated (unassigned) number"),
    "congestion": (34, "Circuit/channel congestion"),
    "failure": (38, "Network out of order"),
}
# The Dial event's dialstatus for each (busy, congestion, no answer and unallocated as a real
# Asterisk 22.10.1 reported them for Local channels; failure's is assumed).
DIAL_STATUS = {"busy": "BUSY", "no_answer": "NOANSWER", "unallocated": "NOANSWER", "congestion": "CONGESTION",
               "failure": "CHANUNAVAIL"}
# Asterisk's own dial timeout (originate's ``timeout``): Q.850 19 on the dialled channel.
RING_OUT = (19, "User alerting, no answer")


@dataclass(frozen=True)
class Press:
    """Press ``keys`` (one DTMF event each, ``gap_s`` apart), ``delay_s`` after the prompt
    starts (``during=True``: barge-in) or after it ends."""

    keys: str
    during: bool = False
    delay_s: float = 0.1
    gap_s: float = 0.2


@dataclass(frozen=True)
class Silent:
    """Say nothing, press nothing."""


@dataclass(frozen=True)
class HangUp:
    during: bool = False
    delay_s: float = 0.1


@dataclass(frozen=True)
class Speak:
    """For the recording that follows this prompt: talk for ``seconds``, then ``then``:
    ``"#"`` (press hash), ``"silence"`` (stay on the line, silent) or ``"hangup"``."""

    seconds: float
    then: str = "#"


@dataclass(frozen=True)
class Mute:
    """For the recording that follows: send no audio frames at all (a broken handset, a Local
    channel waiting in the dialplan). Asterisk 22.10.1 ends such a recording by itself after two
    2-second waits for a frame ("No audio available on ...??"), done with duration 0;
    ``ends_after_s=None`` is an Asterisk that never would, which only the app's own stop ends."""

    ends_after_s: float | None = 4.0


Reply = Press | Silent | HangUp | Speak | Mute


@dataclass
class Resident:
    """What happens when this number is dialled. ``outcome`` is ``answer`` or a key of
    :data:`CAUSES`; ``amd`` is the AMDSTATUS the dialplan's AMD() would report."""

    replies: list[Reply] = field(default_factory=list)
    by_prompt: dict[str, Reply] = field(default_factory=dict)  # prompt key -> reply, before ``replies``
    outcome: str = "answer"
    ring_s: float = 1.0
    amd: str = "HUMAN"
    amd_cause: str = "HUMAN-500-500"
    talk_s: float | None = None  # on an operator line: hang up after talking this long

    def reply_to(self, media: list[str]) -> Reply:
        """The reply to a playback: by what it asks (its last prompt, ``q_safety`` or
        ``msg/language_menu``), else the next in line."""
        parts = media[-1].split("/")
        for key in ("/".join(parts[-2:]), parts[-2] if len(parts) > 1 else ""):
            if key in self.by_prompt:
                return self.by_prompt[key]
        return self.replies.pop(0) if self.replies else Silent()


def answers(*keys: str, during: bool = False) -> list[Reply]:
    """One Press per entry: ``answers("1", "1", "30#")``."""
    return [Press(k, during=during) for k in keys]
