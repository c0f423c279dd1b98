"""Choosing the due cases of one pick: one statement for every township, not one per township
and status.

Order of a pick: booked callbacks that are due, then per township (see quotas.allocate) retries
that are due before fresh numbers, first up to each township's share, then, in the same order, up
to its cap. Within a township and status, the earliest due first (ties by id). Numbers on the
do-not-call list are never picked.

So each township's picks are always a prefix of its own queue (retries due, then fresh numbers
due). The callbacks due are read first (on PostgreSQL alone, as they may fill the pick; on SQLite
in the same statement as the townships); then one statement reads, for every township the remaining
room reaches if the townships before it fill their shares, its share of each status, with a LIMITed
sub-select per township and status (each an index range read on ``ix_cases_queue``): on PostgreSQL
one sub-select joined LATERAL to arrays of (township, status, n), on SQLite a UNION ALL of them in
chunks under its limit of 500 terms. The shares and caps are then applied here. Only when townships
run short of their shares does the pick read further (the next townships' queues, up to what their
caps may take) in another statement.

The choice takes no locks (the reads see some rows that are not picked, and locking those would
hide them from other workers): dialer/leases.py locks and leases the chosen rows in one statement,
and chooses again, without them, for rows another worker took meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    Row,
    Select,
    String,
    Table,
    bindparam,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from dialer.quotas import Allotment
from survey import driver_sql
from survey.models import Case, Contact, DoNotCall
from survey.vocabulary import CaseStatus

_TERMS = 400  # sub-selects per statement: SQLite allows at most 500 in one compound SELECT

_cases, _contacts, _dnc = cast(Table, Case.__table__), Contact.__table__, DoNotCall.__table__
_c = _cases.c


def _due(skip: bool) -> list[ColumnElement[bool]]:
    """Due now, in the survey, not on the do-not-call list (and not in ``skip``)."""
    where = [_c.survey_id == bindparam("survey_id"), _c.next_attempt_at <= bindparam("now"),
             ~select(1).select_from(_contacts.join(_dnc, _dnc.c.number_hash == _contacts.c.number_hash))
             .where(_contacts.c.id == _c.contact_id).exists()]
    return [*where, _c.id.not_in(bindparam("skip", expanding=True))] if skip else where


def _term(i: int, *, township: bool, skip: bool) -> Select[Any]:
    """Up to ``n{i}`` due cases of status ``st{i}`` (of township ``s{i}``), earliest first."""
    where = [_c.status == bindparam(f"st{i}"), *_due(skip)]
    if township:
        where.append(_c.stratum_id == bindparam(f"s{i}"))
    inner = (select(_c.stratum_id, _c.status, _c.next_attempt_at, _c.id).where(*where)
             .order_by(_c.next_attempt_at, _c.id).limit(bindparam(f"n{i}")).subquery(f"t{i}"))
    return select(inner)


@lru_cache(maxsize=256)
def _statement(terms: int, callbacks: bool, skip: bool) -> CompoundSelect[Any] | Select[Any]:
    """The UNION ALL of ``terms`` township sub-selects, after one for callbacks if asked. Built
    once per shape: building it costs more than running it."""
    parts = [_term(0, township=False, skip=skip)] if callbacks else []
    parts += [_term(i, township=True, skip=skip) for i in range(len(parts), len(parts) + terms)]
    return parts[0] if len(parts) == 1 else union_all(*parts)


@lru_cache(maxsize=2)
def _lateral(skip: bool) -> Select[Any]:
    """PostgreSQL: the same sub-select per township and status, once, joined LATERAL to arrays of
    (township, status, n): planned in constant time, where a UNION ALL of a few hundred terms
    would spend more time being planned than run."""
    wanted = func.unnest(bindparam("strata", type_=ARRAY(Integer)), bindparam("statuses", type_=ARRAY(String)),
                         bindparam("ns", type_=ARRAY(Integer))).table_valued("stratum_id", "status", "n").render_derived(name="w")
    where = [_c.stratum_id == wanted.c.stratum_id, _c.status == wanted.c.status, *_due(skip)]
    queue = (select(_c.stratum_id, _c.status, _c.next_attempt_at, _c.id).where(*where)
             .order_by(_c.next_attempt_at, _c.id).limit(wanted.c.n).lateral("q"))
    return select(queue).select_from(wanted).join(queue, true())


class _Row(NamedTuple):
    """A due case as a pick reads it (the columns of :func:`_term`)."""

    stratum_id: int
    status: str
    next_attempt_at: datetime
    id: int


@dataclass
class _Queue:
    """What is known of one township's queue: its first rows (retries due, then fresh numbers
    due) and whether they are all of it."""

    rows: list[int] = field(default_factory=list)
    complete: bool = False

    def has(self, n: int) -> bool:
        return self.complete or len(self.rows) >= n


class _Due:
    """The due rows fetched so far, by township; fetches more when a pick reaches beyond them."""

    def __init__(self, session: Session, params: dict[str, object], limit: int,
                 allotments: Sequence[Allotment], skip: set[int]) -> None:
        self.session, self.limit, self.allotments = session, limit, allotments
        self.params = {**params, "skip": sorted(skip)} if skip else params
        self.fresh = {a.stratum_id: a.fresh for a in allotments}
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.queues: dict[int, _Queue] = {}

    def fetch(self, wanted: dict[int, int], callbacks: bool = False) -> list[int]:
        """Fetch the first ``n`` rows of each township's queue in ``wanted`` (id -> n), and if
        asked the callbacks due (returned, earliest first)."""
        terms = [(s, status, n) for s, n in wanted.items() if n > 0
                 for status in ((CaseStatus.SCHEDULED, CaseStatus.NEW) if self.fresh[s] else (CaseStatus.SCHEDULED,))]
        rows = self._postgres(terms, callbacks) if self.postgres else self._sqlite(terms, callbacks)
        got: dict[tuple[int, str], list[DueCase]] = defaultdict(list)
        for row in rows:
            got[row.stratum_id if row.status != CaseStatus.CALLBACK else 0, row.status].append(row)
        for s, n in wanted.items():
            if n > 0:
                self.queues[s] = _queue(got[s, CaseStatus.SCHEDULED], got[s, CaseStatus.NEW], n, self.fresh[s])
        return _order(got[0, CaseStatus.CALLBACK])

    def _postgres(self, terms: list[tuple[int, CaseStatus, int]], callbacks: bool) -> list[Row[Any]]:
        """The callbacks, then every township's terms in one LATERAL statement."""
        skip = "skip" in self.params
        rows: list[Row[Any]] = []
        if callbacks:
            rows += self.session.execute(_statement(0, True, skip), {**self.params, "st0": CaseStatus.CALLBACK,
                                                                      "n0": self.limit}).all()
        if terms:
            strata, statuses, ns = (list(column) for column in zip(*terms, strict=True))
            rows += self.session.execute(_lateral(skip), {**self.params, "strata": strata, "statuses": [str(x) for x in statuses],
                                                          "ns": ns}).all()
        return rows

    def _sqlite(self, terms: list[tuple[int, CaseStatus, int]], callbacks: bool) -> list[_Row]:
        """UNION ALLs of at most ``_TERMS`` sub-selects, the callbacks' first; read straight from
        the driver (survey/driver_sql.py: SQLAlchemy's work on a statement of a few hundred
        parameters cost as much as SQLite's reads)."""
        skip = "skip" in self.params
        rows: list[_Row] = []
        first, lead = 0, int(callbacks)
        while lead or first < len(terms):
            chunk = terms[first:first + _TERMS - lead]
            params = {**self.params, "st0": CaseStatus.CALLBACK, "n0": self.limit} if lead else {**self.params}
            for i, (s, status, n) in enumerate(chunk, start=lead):
                params.update({f"s{i}": s, f"st{i}": status, f"n{i}": n})
            rows += map(_Row._make, driver_sql.rows(self.session, _statement(len(chunk), bool(lead), skip), params))
            first, lead = first + len(chunk), 0
        return rows

    def take(self, a: Allotment, start: int, n: int, picked: int) -> list[int]:
        """Rows ``start`` to ``n`` of township ``a``'s queue, fetching further if need be
        (``picked``: how many the pick holds so far)."""
        if not self.queues.get(a.stratum_id, _Queue()).has(n):
            self.fetch(self._ahead(a, picked))
        return self.queues[a.stratum_id].rows[start:n]

    def initial(self, room: int) -> dict[int, int]:
        """What the first statement fetches: each township's share as far as the ``room`` the
        callbacks left reaches if the townships before it fill theirs."""
        wanted: dict[int, int] = {}
        for a in self.allotments:
            if room <= 0:
                break
            wanted[a.stratum_id] = min(a.share, room)
            room -= a.share
        return wanted

    def _ahead(self, a: Allotment, picked: int) -> dict[int, int]:
        """Townships from ``a`` on whose caps may fill the pick's remaining room, each with the
        most of its queue a pick can take (min(cap, limit))."""
        wanted: dict[int, int] = {}
        room = self.limit - picked
        for b in self.allotments[self.allotments.index(a):]:
            if room <= 0:
                break
            most = min(b.cap, self.limit)
            if not self.queues.get(b.stratum_id, _Queue()).has(most):
                wanted[b.stratum_id] = most
            room -= most
        return wanted


DUE_ORDER = attrgetter("next_attempt_at", "id")  # dialling order: due time, then id


def _order(rows: list[DueCase]) -> list[int]:
    return [row.id for row in sorted(rows, key=DUE_ORDER)]


def _queue(scheduled: list[DueCase], new: list[DueCase], n: int, fresh: bool) -> _Queue:
    """A township's queue from its first ``n`` retries and fresh numbers due."""
    if len(scheduled) >= n:
        return _Queue(_order(scheduled))
    return _Queue(_order(scheduled) + _order(new), complete=not fresh or len(new) < n)


def pick(session: Session, survey_id: int, now: datetime, limit: int, allotments: Sequence[Allotment],
         skip: Collection[int] = ()) -> list[int]:
    """Ids of up to ``limit`` due cases in dialling order, leaving out ``skip``; see the module's
    docstring."""
    due = _Due(session, {"survey_id": survey_id, "now": now}, limit, allotments, set(skip))
    if due.postgres:
        ids = due.fetch({}, callbacks=True)[:limit]
        if len(ids) < limit:
            due.fetch(due.initial(limit - len(ids)))
    else:  # one statement: the townships' shares are read even if the callbacks fill the pick
        ids = due.fetch(due.initial(limit), callbacks=True)[:limit]
    taken: dict[int, int] = defaultdict(int)
    for bound in ("share", "cap"):
        for a in allotments:
            room = min(getattr(a, bound) - taken[a.stratum_id], limit - len(ids))
            if room > 0:
                got = due.take(a, taken[a.stratum_id], taken[a.stratum_id] + room, len(ids))
                ids += got
                taken[a.stratum_id] += len(got)
    return ids


class DueCase(Protocol):
    """What :func:`dialling_order` needs of a due case."""

    @property
    def id(self) -> int: ...
    @property
    def stratum_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def next_attempt_at(self) -> datetime: ...


def dialling_order(due: Iterable[DueCase], limit: int, allotments: Sequence[Allotment]) -> list[int]:
    """The ids :func:`pick` would choose, in its order, if ``due`` were every case due (and not on
    the do-not-call list): the same rules on rows held in memory (dialer/run_ahead.py)."""
    by_status: dict[tuple[int, str], list[int]] = defaultdict(list)
    ids: list[int] = []
    for r in sorted(due, key=DUE_ORDER):
        if r.status == CaseStatus.CALLBACK:
            ids.append(r.id)
        else:
            by_status[r.stratum_id, r.status].append(r.id)
    del ids[limit:]
    queues = {a.stratum_id: by_status[a.stratum_id, CaseStatus.SCHEDULED]
              + (by_status[a.stratum_id, CaseStatus.NEW] if a.fresh else []) for a in allotments}
    taken: dict[int, int] = defaultdict(int)
    for bound in ("share", "cap"):
        for a in allotments:
            room = min(getattr(a, bound) - taken[a.stratum_id], limit - len(ids))
            if room > 0:
                got = queues[a.stratum_id][taken[a.stratum_id]:taken[a.stratum_id] + room]
                ids += got
                taken[a.stratum_id] += len(got)
    return ids
