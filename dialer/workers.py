"""Which dialler workers are alive, so that a dead one's leases come back at once.

A worker checks in under its name (the ``lease_owner`` of the cases it leases) when it starts,
beats every few seconds from a thread of its own while it runs, and checks out when it stops.
A worker whose heartbeat is older than :data:`STALE_AFTER` died (SIGKILL, a lost machine, a
process frozen): every other worker looks for such workers every :data:`TAKEOVER_EVERY_S` (and at
housekeeping) and takes their leases back, so a dead worker's cases are free again within
``STALE_AFTER + TAKEOVER_EVERY_S`` (plus the turn the others are in: at most a second or a batch
of calls being placed). A name that checks in while its row is still there is a worker restarted
after such a death (``minyi dial --worker-id``): it takes its predecessor's leases back itself,
before leasing anything. Heartbeats are in real time, whatever the worker's clock: they say
whether a process is alive, not where its fieldwork stands. A frozen worker that wakes up beats
again; the results of its calls still count (a real result replaces the ``unknown`` its attempts
were given), but the cases it had leased are no longer its own.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from survey.clock import SystemClock
from survey.models import DialerWorker
from survey.transactions import DEFAULT_RETRY, run_transaction

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 5.0
STALE_AFTER = timedelta(seconds=60)  # twelve missed heartbeats
TAKEOVER_EVERY_S = 15.0  # how often a worker looks for dead ones


def check_in(session: Session, name: str, now: datetime) -> bool:
    """Register ``name`` as running; True when it was registered already: a restart after a
    death, whose leases are the caller's to take back."""
    row = session.get(DialerWorker, name, with_for_update=True)
    if row is None:
        session.add(DialerWorker(name=name, started_at=now, heartbeat_at=now))
        return False
    row.started_at = row.heartbeat_at = now
    return True


def check_out(session: Session, name: str) -> None:
    session.execute(delete(DialerWorker).where(DialerWorker.name == name))


def beat(session: Session, name: str, now: datetime) -> None:
    session.execute(update(DialerWorker).where(DialerWorker.name == name).values(heartbeat_at=now))


def still_beating(factory: sessionmaker[Session], name: str, every_s: float = HEARTBEAT_EVERY_S,
                  stale_after: timedelta = STALE_AFTER) -> timedelta | None:
    """How old the last beat of a worker named ``name`` is, if that worker is still beating; None
    when no such worker runs (no row, or a heartbeat older than ``stale_after``, or one that does
    not move within a beat: a worker killed moments ago). Asked before a worker starts under a
    name, so that two processes never lease under one name."""
    first = _heartbeat(factory, name)
    if first is None or SystemClock().now() - first >= stale_after:
        return None
    age = (SystemClock().now() - first).total_seconds()
    time.sleep(min(every_s + 1.0, max(1.0, every_s + 1.0 - age)))  # a live worker beats meanwhile
    again = _heartbeat(factory, name)
    return None if again is None or again == first else SystemClock().now() - again


def _heartbeat(factory: sessionmaker[Session], name: str) -> datetime | None:
    with factory() as session:
        return session.scalar(select(DialerWorker.heartbeat_at).where(DialerWorker.name == name))


def lost(session: Session, now: datetime, stale_after: timedelta = STALE_AFTER) -> list[str]:
    """Workers whose heartbeat stopped ``stale_after`` ago or longer."""
    return list(session.scalars(select(DialerWorker.name).where(DialerWorker.heartbeat_at < now - stale_after)))


class Heartbeat:
    """Beats for ``name`` from a daemon thread until closed (then checks out). A failed beat
    (the database restarting) is logged and tried again at the next. :meth:`lapsed` tells the
    worker when its beats stopped long enough for the others to take it for dead."""

    def __init__(self, factory: sessionmaker[Session], name: str, every_s: float = HEARTBEAT_EVERY_S,
                 stale_after: timedelta = STALE_AFTER) -> None:
        self.factory, self.name, self.every_s = factory, name, every_s
        self._stale_s = stale_after.total_seconds()
        self._lock = threading.Lock()
        self._last_beat = time.monotonic()  # of the last beat stored
        self._lapsed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="minyi-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        run_transaction(self.factory, lambda s: check_out(s, self.name), DEFAULT_RETRY)

    def lapsed(self) -> bool:
        """Whether no beat was stored for ``stale_after`` since the last time this was asked (the
        process was frozen, the database away): the worker's leases may have been taken back."""
        with self._lock:
            lapsed = self._lapsed or time.monotonic() - self._last_beat >= self._stale_s
            self._lapsed = False
            return lapsed

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            with self._lock:  # noticed before the beat that ends the gap, so the worker hears of it
                self._lapsed = self._lapsed or time.monotonic() - self._last_beat >= self._stale_s
            try:
                run_transaction(self.factory, lambda s: beat(s, self.name, SystemClock().now()), DEFAULT_RETRY)
            except Exception:
                log.exception("worker %s: heartbeat failed", self.name)
                continue
            with self._lock:
                self._last_beat = time.monotonic()
