"""The one policy for trying a transaction again after the database failed under it.

Two kinds of failure are worth another try: a *transient* one (PostgreSQL broke a deadlock or a
serialisation conflict, SQLite was locked), tried a few times at once; and a *lost connection*
(the server restarted, failed over or is unreachable; the pool replaces a connection it finds
closed when it hands it out, :func:`survey.db.make_engine`), tried for as long as
``reconnect_seconds``. Anything else is a bug or bad data and is raised at once. The dialer, the call-lifecycle service and the channels all go through
:func:`run_transaction` or, where a caller keeps its own session across tries, :class:`Retry`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from survey.db import session_scope

T = TypeVar("T")


def transient(exc: DBAPIError) -> bool:
    """A deadlock or serialisation failure (PostgreSQL 40P01, 40001), or SQLite busy."""
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40001", "40P01") or "database is locked" in str(exc.orig)


def connection_lost(exc: DBAPIError) -> bool:
    """The database went away: connection exceptions (08xxx), shutdowns (57P0x), a connection
    SQLAlchemy found broken, or a failed connect (psycopg gives no SQLSTATE then)."""
    code = getattr(exc.orig, "sqlstate", None) or ""
    return (exc.connection_invalidated or code.startswith(("08", "57P"))
            or (not code and isinstance(exc, OperationalError) and "connection" in str(exc.orig).lower()))


@dataclass(frozen=True)
class RetryPolicy:
    transient_tries: int = 5
    reconnect_seconds: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False)

    def start(self) -> Retry:
        return Retry(self)


DEFAULT_RETRY = RetryPolicy()


class Retry:
    """The tries of one piece of work. ``after(exc)`` waits before the next try, or raises
    ``exc`` again when it is not worth one (or no more tries are left)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failures = 0
        self._away_since: float | None = None

    def after(self, exc: DBAPIError) -> None:
        self.failures += 1
        policy = self.policy
        if connection_lost(exc):
            now = policy.monotonic()
            self._away_since = self._away_since if self._away_since is not None else now
            if now - self._away_since > policy.reconnect_seconds:
                raise exc
            policy.sleep(min(0.1 * self.failures, 2.0))
            return
        if self.failures >= policy.transient_tries or not transient(exc):
            raise exc
        policy.sleep(0.05 * self.failures)


def run_transaction(sessions: sessionmaker[Session], work: Callable[[Session], T],
                    policy: RetryPolicy = DEFAULT_RETRY) -> T:
    """``work`` in a transaction of its own (committed when it returns), tried again by the
    policy. ``work`` must be safe to run again: a failed try's changes are rolled back."""
    retry = policy.start()
    while True:
        try:
            with session_scope(sessions) as session:
                return work(session)
        except DBAPIError as exc:
            retry.after(exc)
