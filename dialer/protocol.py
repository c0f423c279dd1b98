"""The contract between the dialer and a telephony channel.

A channel adapts one provider (simulated, Twilio, Asterisk ARI) to the interview engine, no more.
The dialer asks it to place a call with :class:`CallRequest`; the call's end comes back as a
:class:`CallResult`, either returned at once (the simulated channel runs the whole call on the
virtual clock) or reported later by the channel's webhook / event handler through
``dialer.outcomes.apply_result``.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from survey.errors import Refused
from survey.vocabulary import CallStatus


@dataclass(frozen=True)
class CallRequest:
    attempt_id: int
    case_id: int
    interview_id: int | None  # a partial interview to resume, if any
    number: str  # E.164
    caller_id: str
    language: str | None
    ring_timeout_s: int = 30


@dataclass(frozen=True)
class CallResult:
    status: str  # a CallStatus value
    started_at: datetime
    ended_at: datetime
    answered_at: datetime | None = None
    provider_call_id: str | None = None
    amd_result: str | None = None
    hangup_cause: str | None = None
    interview_status: str | None = None  # an InterviewStatus value when the call was answered
    callback_at: datetime | None = None  # the resident chose a callback time
    error: str | None = None

    @property
    def channel_failed(self) -> bool:
        """The provider or the connection to it failed the call (a refusal, no answer from its
        API, an exception): it says nothing about the number called. Several in a row stop the
        dialer (``WorkerOptions.max_channel_failures``)."""
        return self.status in (CallStatus.FAILED, CallStatus.UNKNOWN) and self.error is not None


class ChannelNotReady(Refused):
    """The channel cannot carry this survey's calls (credentials refused, provider unreachable,
    a township the simulated world does not know); the message says why."""


class Channel(Protocol):
    """A telephony channel. ``place_call`` returns the result when the call is already over
    (simulated), or ``None`` when the result will be reported asynchronously.

    ``preflight`` is called once before the first call of a round: it raises
    :class:`ChannelNotReady` when the channel could not place this survey's calls (so that a
    bad password or a missing server stops the round before it burns the sample)."""

    name: str

    def preflight(self, survey_id: int) -> None: ...

    def place_call(self, request: CallRequest) -> CallResult | None: ...

    def lines_in_use(self) -> int: ...


@runtime_checkable
class Overlapping(Protocol):
    """A channel whose ``place_call`` waits for the provider's reply (Asterisk: the originate's
    HTTP answer, tens of milliseconds under load). Placed one after another those replies cap the
    rate below the allowed calls per second, so the worker starts each call with ``start_call``
    (the same as ``place_call``, finished in the future it returns: a result, None, or the
    exception ``place_call`` would raise) and keeps up to ``overlap`` of them unfinished while
    the pacer still spaces their starts."""

    overlap: int

    def start_call(self, request: CallRequest) -> Future[CallResult | None]: ...


@runtime_checkable
class Draining(Protocol):
    """A channel that carries its calls itself (Asterisk) and can end them: ``close`` waits up to
    ``drain_s`` for the calls in progress, then hangs up those still up and stores their results
    (with a hang-up cause), so no attempt stays open when the worker exits."""

    def close(self, drain_s: float = 0.0) -> None: ...


@runtime_checkable
class Tidying(Protocol):
    """A channel with work of its own to do now and then, outside any call (Twilio: bring the
    recordings home and delete them at Twilio). The worker calls ``housekeeping`` at each of its
    own housekeepings, outside its transactions; it returns at once (the work runs in the
    background) and never raises."""

    def housekeeping(self) -> None: ...
