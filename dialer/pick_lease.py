"""PostgreSQL: a pick (dialer/picking.py) and its lease (dialer/leases.py) in one statement.

The same choice as :func:`dialer.picking.pick`, in the same order: the callbacks due, earliest
first; then each township's share, in the allotments' order, of its queue (retries due before
fresh numbers due, earliest first); then, in the same order, the rest of each township's queue up
to its cap; the whole cut at ``limit``. In SQL:

- ``callbacks``: up to ``limit`` callbacks due (one range of ``ix_cases_due``);
- ``shares``: per township with a share, its first ``share`` rows (a LATERAL sub-select per
  township: a range of ``ix_cases_queue`` for its retries, then one for its fresh numbers if the
  retries fall short), cut at the room the callbacks left;
- ``caps``: only if the shares left room (``short`` rows), rows ``share + 1`` to
  ``min(cap, share + short)`` of each township's queue, townships in order, cut at ``short``: the
  outer rows come sorted by township, so the sort on top is incremental and the LIMIT stops it
  at the first townships that fill the room, without reading the queues of the others.

Rows ``k <= share`` of a township's queue belong to its share and rows beyond to its cap, so the
pick is ``callbacks ++ shares ++ caps`` cut at ``limit``: exactly picking.pick's greedy choice.
The chosen rows are then locked with ``FOR UPDATE SKIP LOCKED`` (rows another worker holds are
passed by), leased, and returned with what a call needs; the statement returns every chosen id,
leased or not, so that dialer/leases.py chooses again without the rows it did not get.

Both the lock and the lease find their rows by ``ctid`` (the address of the row version the
choice read, then of the version locked), as arrays (``= ANY(ARRAY(...))``, where a join to the
estimated rows of ``chosen``, thousands for a province, made PostgreSQL scan the table): a TID
scan reads each row's heap page at once, where finding them by id read ``pk_cases`` twice per
row (a tenth of the statement's buffer reads). The addresses are sound within the statement: its
snapshot keeps every version it saw from being vacuumed, and a row locked here cannot change
before the commit. A row another transaction leased (or changed) and committed after this
statement's snapshot is locked, if at all, in its newest version, whose status is checked again
(``EvalPlanQual``); that version is invisible to the snapshot, so the lease passes it by and
dialer/leases.py chooses again without it: at worst a row missed this once, never one leased twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from dialer.cases import DIALABLE
from dialer.quotas import Allotment
from survey.vocabulary import CaseStatus

_DIALABLE = ", ".join(f"'{status}'" for status in DIALABLE)
_LISTED = "EXISTS (SELECT FROM contacts ct JOIN do_not_call d USING (number_hash) WHERE ct.id = c.contact_id)"


def _due(status: CaseStatus, where: str, limit: str, part: int = 0) -> str:
    """Up to ``limit`` due cases of ``status`` meeting ``where``, earliest first (ties by id)."""
    return (f"(SELECT id, ctid, {part} AS part, next_attempt_at FROM cases c WHERE {where} "
            f"AND status = '{status}' AND next_attempt_at <= :now AND survey_id = :survey_id "
            f"AND id <> ALL(CAST(:skip AS int[])) AND NOT {_LISTED} ORDER BY next_attempt_at, id LIMIT {limit})")


def _queue(limit: str) -> str:
    """The first ``limit`` rows of township ``w``'s queue, numbered ``k`` from 1: retries due,
    then (if it has any) fresh numbers due, only as many of those as the retries leave room for
    (none read when the retries fill it)."""
    town = "c.stratum_id = w.stratum_id"
    return (f"SELECT id, ctid, row_number() OVER (ORDER BY part, next_attempt_at, id) AS k FROM ("
            f"WITH s AS MATERIALIZED {_due(CaseStatus.SCHEDULED, town, limit)} SELECT * FROM s UNION ALL "
            f"{_due(CaseStatus.NEW, f'w.fresh AND {town}', f'{limit} - (SELECT count(*) FROM s)', 1)}) u")


# the allotments in order, as a sub-select (not a CTE) so that the planner knows its rows come
# sorted by ``ord``, and so the rows of a nested loop over it
_TOWNSHIPS = ("(SELECT * FROM unnest(CAST(:strata AS int[]), CAST(:shares AS int[]), "
              "CAST(:caps AS int[]), CAST(:fresh AS bool[])) WITH ORDINALITY "
              "AS t(stratum_id, share, cap, fresh, ord) ORDER BY ord) w")
# ... only those with a share, numbered as in the whole list: a province's pick has a share for
# at most ``limit`` of its 3,350 townships, and reading all of them (arrays parsed, rows stored)
# was a tenth of the statement's time
_SHARING = ("(SELECT * FROM unnest(CAST(:sharing AS int[]), CAST(:sharing_shares AS int[]), "
            "CAST(:sharing_fresh AS bool[]), CAST(:sharing_ords AS bigint[])) "
            "AS t(stratum_id, share, fresh, ord) ORDER BY ord) w")


def _compact(sql: str) -> str:
    """``sql`` single-spaced (it has no string literal with a space in it). psycopg turns a
    statement's named placeholders into ``$n`` with a regular expression, and keeps the result only
    for statements of at most 4,096 bytes (``psycopg._queries.MAX_CACHED_STATEMENT_LENGTH``): at
    4,513 bytes this one was parsed again on every pick: 0.2 ms of the worker's CPU per pick."""
    return " ".join(sql.split())


_STATEMENT = text(_compact(f"""
WITH callbacks AS MATERIALIZED (
    SELECT id, ctid, 0 AS phase, 0::bigint AS ord, row_number() OVER (ORDER BY next_attempt_at, id) AS k
    FROM {_due(CaseStatus.CALLBACK, "true", ":limit")} AS c
), shares AS MATERIALIZED (
    SELECT q.id, q.ctid, 1 AS phase, w.ord, q.k FROM {_SHARING}, LATERAL ({_queue("least(w.share, :limit)")}) q
    ORDER BY w.ord, q.k
    LIMIT greatest(:limit - (SELECT count(*) FROM callbacks), 0)
), short AS MATERIALIZED (
    SELECT :limit - (SELECT count(*) FROM callbacks) - (SELECT count(*) FROM shares) AS n
), caps AS MATERIALIZED (
    SELECT q.id, q.ctid, 2 AS phase, w.ord, q.k FROM {_TOWNSHIPS},
    LATERAL ({_queue("least(greatest(w.share, w.cap), w.share + (SELECT n FROM short))")}) q
    WHERE q.k > w.share AND w.cap > w.share
    ORDER BY w.ord, q.k
    LIMIT (SELECT n FROM short)
), chosen AS MATERIALIZED (
    SELECT id, ctid, row_number() OVER (ORDER BY phase, ord, k) AS pos
    FROM (SELECT * FROM callbacks UNION ALL SELECT * FROM shares UNION ALL SELECT * FROM caps) a
), leased AS (
    UPDATE cases c SET status = '{CaseStatus.LEASED}', lease_owner = :owner, lease_expires_at = :expires,
                       attempts = c.attempts + 1, updated_at = :now
    FROM contacts ct
    WHERE ct.id = c.contact_id AND c.ctid = ANY(ARRAY(
        SELECT x.ctid FROM cases x WHERE x.ctid = ANY(ARRAY(SELECT ctid FROM chosen)) AND x.status IN ({_DIALABLE})
        FOR UPDATE SKIP LOCKED))
    RETURNING c.id, c.survey_id, c.stratum_id, ct.number_enc, c.language, c.contacted
)
SELECT chosen.id AS chosen, leased.* FROM chosen LEFT JOIN leased USING (id) ORDER BY chosen.pos
"""))


# a leased row: dialer.leases.Leased's fields, in order (id, survey_id, stratum_id, number_enc,
# language, contacted)
LeasedRow = tuple[int, int, int, bytes, str | None, bool]


@dataclass(frozen=True)
class Got:
    """One pick and lease: the ids chosen in dialling order, and the rows leased of them."""

    chosen: list[int]
    leased: list[LeasedRow]


def pick_and_lease(session: Session, survey_id: int, now: datetime, limit: int, allotments: Sequence[Allotment],
                   owner: str, lease_for: timedelta, skip: Collection[int] = ()) -> Got:
    """Choose up to ``limit`` due cases as picking.pick does (leaving out ``skip``) and lease to
    ``owner`` those no other transaction holds, in one statement."""
    strata, shares, caps, fresh = _columns(allotments)
    sharing = _columns([(a.stratum_id, a.share, a.fresh, ord_) for ord_, a in enumerate(allotments, 1) if a.share > 0])
    rows = session.execute(_STATEMENT, {
        "survey_id": survey_id, "now": now, "limit": limit, "skip": _array(sorted(skip)), "owner": owner,
        "expires": now + lease_for, "strata": strata, "shares": shares, "caps": caps, "fresh": fresh,
        "sharing": sharing[0], "sharing_shares": sharing[1], "sharing_fresh": sharing[2], "sharing_ords": sharing[3]}).all()
    # plain tuples: a mapping per row (and a dict of it) was a third of the worker's CPU per pick
    return Got([row[0] for row in rows], [cast(LeasedRow, row[1:]) for row in rows if row[1] is not None])


def _columns(rows: Sequence[tuple[int | bool, ...]]) -> list[str]:
    """Each of the four columns of ``rows`` as an array's text (:func:`_array`), taken apart by
    ``zip`` (in C, where a generator per column made a Python step per township and column)."""
    return [_array(column) for column in zip(*rows, strict=True)] if rows else ["{}"] * 4


def _array(values: Iterable[int | bool]) -> str:
    """An array's text, cast in the statement: a list's repr in braces (``{1, 2, 3}``, ``{True,
    False}``: PostgreSQL reads both), made in C. A province's 3,350 townships as one string each:
    psycopg's list adapter spent milliseconds of the worker's CPU per pick, and joining the
    numbers' strings twice as long as the repr (1.5 ms for the four arrays, now 0.8 ms)."""
    return "{" + repr(list(values))[1:-1] + "}"
