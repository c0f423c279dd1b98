"""Planner statistics refreshed by the workers' housekeeping when the dialer's tables have grown."""

from __future__ import annotations

from dialer_fakes import add_numbers, make_survey
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from dialer import table_stats
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import Case


def _analysed(session: Session, table: str) -> bool:
    return bool(session.scalar(text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                                    "WHERE relid = to_regclass(:t)"), {"t": table}))


def test_tables_grown_past_the_threshold_are_analysed_once(sessions: sessionmaker[Session],
                                                            clock: VirtualClock) -> None:
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(100, 100))
        add_numbers(s, survey, 30, clock.now())  # 60 cases: more than 50 rows changed, no attempt
    with session_scope(sessions) as s:
        if postgres:
            s.execute(text("SELECT pg_stat_force_next_flush()"))
    with session_scope(sessions) as s:
        assert table_stats.refresh(s) == (["cases"] if postgres else [])
    with session_scope(sessions) as s:
        if postgres:
            assert _analysed(s, "cases") and not _analysed(s, "call_attempts")
        assert table_stats.refresh(s) == []  # nothing changed since
    with session_scope(sessions) as s:  # 60 rows of 60 changed: past 50 + 10 %
        s.execute(update(Case).values(priority=Case.priority + 1))
    with session_scope(sessions) as s:
        if postgres:
            s.execute(text("SELECT pg_stat_force_next_flush()"))
    with session_scope(sessions) as s:
        assert table_stats.refresh(s) == (["cases"] if postgres else [])
