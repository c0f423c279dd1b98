"""Which dialler workers are alive, so that a dead one's leases come back at once.

A worker checks in under its name (the ``lease_owner`` of the cases it leases) when it starts,
beats every few seconds from a thread of its own while it runs, and checks out when it stops.
A worker whose heartbeat is older than :data:`STALE_AFTER` died (SIGKILL, a lost machine): the
others take its leases back at their next housekeeping. A name that checks in while its row is
still there is a worker restarted after such a death (``minyi dial --worker-id``): it takes its
predecessor's leases back itself, before leasing anything. Heartbeats are in real time, whatever
the worker's clock: they say whether a process is alive, not where its fieldwork stands.
"""

from __future__ import annotations

import logging
import threading
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


def lost(session: Session, now: datetime, stale_after: timedelta = STALE_AFTER) -> list[str]:
    """Workers whose heartbeat stopped ``stale_after`` ago or longer."""
    return list(session.scalars(select(DialerWorker.name).where(DialerWorker.heartbeat_at < now - stale_after)))


class Heartbeat:
    """Beats for ``name`` from a daemon thread until closed (then checks out). A failed beat
    (the database restarting) is logged and tried again at the next."""

    def __init__(self, factory: sessionmaker[Session], name: str, every_s: float = HEARTBEAT_EVERY_S) -> None:
        self.factory, self.name, self.every_s = factory, name, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="minyi-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        run_transaction(self.factory, lambda s: check_out(s, self.name), DEFAULT_RETRY)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                run_transaction(self.factory, lambda s: beat(s, self.name, SystemClock().now()), DEFAULT_RETRY)
            except Exception:
                log.exception("worker %s: heartbeat failed", self.name)
