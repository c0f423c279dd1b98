"""A virtual clock's worker running ahead of the database: the cases falling due in the next few
minutes leased at once, dialled from memory as they fall due, their results stored together.

In a simulated campaign's sparse phases a worker leases a handful of cases each time one falls
due, and stores their results in a transaction of their own: two transactions for five calls.
After a pick that took everything due, dialer/worker.py leases with :func:`lease_ahead` every case
falling due up to a horizon (before the next housekeeping). No one else changes those cases (a
virtual clock's worker is alone), and no result brings a case forward into the horizon (retries
and callbacks wait at least ten minutes; a result that could is stored at once), so
:meth:`RunAhead.take` choosing among them with :func:`dialer.picking.dialling_order` at each
turn chooses what a pick would have: the same calls, at the same moments, in the same order. Their
results wait in :attr:`RunAhead.deferred` and are stored in one transaction, each as of the moment
it came back (``apply_results(settled_at=...)``). Whatever the worker does that the run-ahead
does not foresee (housekeeping, a call withdrawn, a township filling, a stop) first stores the
results and gives back the cases not yet dialled (:func:`dialer.attempts.give_back`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import takewhile
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from dialer import attempts, leases, picking
from dialer.cases import DIALABLE, status_is
from dialer.outcomes import Applied, apply_results
from dialer.policy import DialPolicy
from dialer.protocol import CallRequest, CallResult
from dialer.quotas import Allotment
from survey.clock import Clock
from survey.models import CallAttempt, Case, Contact, DoNotCall
from survey.phones import PhoneVault

MOST = 1000  # cases leased ahead at once, at most

_c = cast(Table, Case.__table__).c
_contacts, _dnc, _attempts = Contact.__table__, DoNotCall.__table__, cast(Table, CallAttempt.__table__)
_FALLING_DUE = (select(_c.id, _c.status, _c.next_attempt_at).where(
    _c.survey_id == bindparam("survey_id"), status_is(*DIALABLE), _c.next_attempt_at > bindparam("after"),
    _c.next_attempt_at <= bindparam("horizon"),
    ~select(1).select_from(_contacts.join(_dnc, _dnc.c.number_hash == _contacts.c.number_hash))
    .where(_contacts.c.id == _c.contact_id).exists())
    .order_by(_c.next_attempt_at, _c.id).limit(MOST))
_ROUTE = (update(_attempts).where(_attempts.c.id == bindparam("attempt_id"))
          .values(trunk=bindparam("trunk"), caller_id=bindparam("caller")))


class Ahead(NamedTuple):
    """A case leased ahead: its call, opened already (the caller id is chosen when it is placed)."""

    id: int
    stratum_id: int
    status: str  # before the lease
    next_attempt_at: datetime
    request: CallRequest


class Settled(NamedTuple):
    dial: attempts.Dial
    result: CallResult
    applied: Applied | None


@dataclass
class RunAhead:
    # case id -> leased, not yet dialled; in the order of :func:`lease_ahead` (due time, then id),
    # which taking cases out keeps: the earliest due come first.
    pending: dict[int, Ahead] = field(default_factory=dict)
    deferred: list[tuple[attempts.Dial, CallResult, datetime]] = field(default_factory=list)
    routes: list[attempts.Dial] = field(default_factory=list)  # taken: their trunks and caller ids to write

    @property
    def active(self) -> bool:
        return bool(self.pending or self.deferred or self.routes)

    def next_due(self) -> datetime | None:
        """When the next pending case falls due (nothing else in the database falls due sooner)."""
        return next(iter(self.pending.values())).next_attempt_at if self.pending else None

    def take(self, now: datetime, limit: int, allotments: Sequence[Allotment]) -> list[Ahead]:
        """What a pick at ``now`` would lease, in its order (:meth:`route` them when placed)."""
        due = list(takewhile(lambda a: a.next_attempt_at <= now, self.pending.values()))
        return [self.pending.pop(case_id) for case_id in picking.dialling_order(due, limit, allotments)]

    def route(self, ahead: Ahead, trunk: str, caller_id: str) -> attempts.Dial:
        """The call of a case taken, on ``trunk`` from ``caller_id`` (written with the results)."""
        dial = attempts.Dial(replace(ahead.request, caller_id=caller_id), trunk, ahead.stratum_id)
        self.routes.append(dial)
        return dial

    def defer(self, done: Sequence[tuple[attempts.Dial, CallResult]], at: datetime) -> None:
        self.deferred += [(dial, result, at) for dial, result in done]

    def store(self, session: Session, clock: Clock, policy: DialPolicy, give_back: str | None = None) -> list[Settled]:
        """Store the deferred results, each as of its moment, and with ``give_back`` (the owner)
        give back the cases not dialled; :meth:`stored` forgets them once committed."""
        if give_back is not None:
            attempts.give_back(session, [(a.request.attempt_id, a.id, a.status) for a in self.pending.values()],
                               give_back, clock.now())
        if self.routes:
            session.execute(_ROUTE, [{"attempt_id": d.request.attempt_id, "trunk": d.trunk,
                                     "caller": d.request.caller_id} for d in self.routes])
        done = self.deferred
        if not done:
            return []
        applied = apply_results(session, [(d.request.attempt_id, r) for d, r, _at in done], clock, policy=policy,
                                settled_at=[at for _d, _r, at in done])
        return [Settled(d, r, a) for (d, r, _at), a in zip(done, applied, strict=True)]

    def stored(self, gave_back: bool) -> None:
        self.deferred, self.routes = [], []
        if gave_back:
            self.pending = {}


def lease_ahead(session: Session, survey_id: int, now: datetime, horizon: datetime, *, owner: str, channel: str,
                vault: PhoneVault, policy: DialPolicy) -> list[Ahead]:
    """Lease every case falling due after ``now`` up to ``horizon`` (fewer if there are more than
    :data:`MOST`: then up to a due time all of whose cases it holds) and open their attempts; in
    the order of their due times, then ids (what :attr:`RunAhead.pending` keeps)."""
    rows = session.execute(_FALLING_DUE, {"survey_id": survey_id, "after": now, "horizon": horizon}).all()
    if len(rows) == MOST:  # the cases due at the last time may go on beyond the limit
        rows = [r for r in rows if r.next_attempt_at < rows[-1].next_attempt_at]
    if not rows:
        return []
    lease_for = rows[-1].next_attempt_at - now + timedelta(seconds=policy.pacing.lease_seconds)
    leased = leases.lease(session, [r.id for r in rows], owner, now, lease_for)
    dials = attempts.begin(session, leased, [""] * len(leased), [""] * len(leased), now=now, owner=owner,
                           channel=channel, vault=vault, ring_timeout_s=policy.pacing.ring_timeout_s)
    before = {r.id: r for r in rows}
    return sorted((Ahead(d.request.case_id, d.stratum_id, before[d.request.case_id].status,
                         before[d.request.case_id].next_attempt_at, d.request) for d in dials), key=picking.DUE_ORDER)
