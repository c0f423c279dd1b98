"""What a call that was never answered ended with: Q.850 hang-up causes as a :class:`CallStatus`."""

from __future__ import annotations

from ivr.channels.base import CallStatus

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
