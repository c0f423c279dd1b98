"""What a call that was never answered ended with: Q.850 hang-up causes as a :class:`CallStatus`;
and the hang-up causes stored when Asterisk gave none (every attempt ends with a cause)."""

from __future__ import annotations

from survey.vocabulary import CallStatus

APP_STOPPED = "app_stopped"  # the app was stopped (shutdown, drain deadline) during the call
APP_ERROR = "app_error"  # an unexpected error in the app ended the call
NO_REPORT = "no_report"  # Asterisk reported neither an answer nor an end in time
CONNECTION_LOST = "connection_lost"  # the channel ended while the ARI connection was down

BUSY = frozenset({17})  # user busy
NO_ANSWER = frozenset({
    0,  # unknown: the ring timeout of an originate
    16,  # normal clearing before an answer
    18, 19,  # no user responding, no answer
    20,  # subscriber absent (handset off or out of coverage)
    21,  # call rejected
    31,  # normal, unspecified
})
NON_WORKING = frozenset({
    1,  # unallocated (unassigned) number
    2, 3,  # no route to transit network / destination
    22,  # number changed
    28,  # invalid number format
})
# Everything else - 27 destination out of order, 34 no circuit (congestion), 38 network out of order,
# 41 temporary failure, 42 switching equipment congestion, 44 channel unavailable, ... - is a network
# or provider failure: the number may be fine.


# What a Dial event's ``dialstatus`` means when the channel ends without a cause (0, "Unknown"): a
# Local channel whose other half ran Busy() or Congestion() ends with cause 0 on the half the app
# originated, and only the Dial event (peer: our channel, dialstatus BUSY) says what happened.
DIAL_STATUS_CAUSES = {"BUSY": 17, "CONGESTION": 34, "NOANSWER": 19, "CHANUNAVAIL": 44}


# A *soft* ChannelHangupRequest carries Asterisk's soft-hang-up flags as its ``cause``, not a Q.850
# cause: 32 (explicit) for a hang-up by request, 4 (shutdown) as Asterisk stops or restarts; the
# channel then ends with cause 0, Unknown, and the events WebSocket closes.
SOFTHANGUP_SHUTDOWN = 4


def shutdown(item: dict[str, object]) -> bool:
    """Whether a ChannelHangupRequest is Asterisk hanging the channel up as it shuts down."""
    flags = item.get("cause")
    return bool(item.get("soft")) and isinstance(flags, int) and bool(flags & SOFTHANGUP_SHUTDOWN)


def cause_of(cause: int | None, dial_status: str | None) -> int | None:
    """The Q.850 cause a channel ended with: ChannelDestroyed's, else what the last Dial status says."""
    if not cause and dial_status in DIAL_STATUS_CAUSES:
        return DIAL_STATUS_CAUSES[dial_status]
    return cause


def unanswered_status(cause: int | None) -> str:
    if cause is None:
        return CallStatus.UNKNOWN
    if cause in BUSY:
        return CallStatus.BUSY
    if cause in NO_ANSWER:
        return CallStatus.NO_ANSWER
    if cause in NON_WORKING:
        return CallStatus.NON_WORKING
    return CallStatus.FAILED
