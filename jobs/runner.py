"""Running jobs: claim one, run its handler beside a heartbeat thread, and record how it ended.

The handler does its work and :func:`jobs.queue.finish` in one transaction of its own, so a job
either ends with its work and result stored together or leaves nothing behind; a worker killed
half-way leaves a running job whose lease runs out, and the next worker to look runs it again.
What a handler refuses (a :class:`~survey.errors.Refused`: a file it cannot read) fails the job
with that message; anything else fails it with the error's kind, and the log has the traceback.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from jobs import queue
from jobs.queue import Claimed, LeaseLost
from survey.clock import Clock
from survey.errors import Refused
from survey.phones import PhoneVault
from survey.transactions import run_transaction

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # stage, done, total (0: not known)
UNEXPECTED = "the job stopped on an unexpected error (%(error)s); the server log has the details"
HEARTBEAT_S = 1.0  # between two writes of a running job's lease and progress


@dataclass(frozen=True)
class JobContext:
    sessions: sessionmaker[Session]
    clock: Clock
    vault: PhoneVault


Handler = Callable[[JobContext, Claimed, Progress], None]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Heartbeat:
    """A thread renewing a running job's lease and writing its latest progress every ``interval``."""

    def __init__(self, context: JobContext, job: Claimed, interval: float = HEARTBEAT_S) -> None:
        self.context, self.job, self.interval = context, job, interval
        self._state = ("starting", 0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job.id}-heartbeat", daemon=True)

    def progress(self, stage: str, done: int, total: int) -> None:
        self._state = (stage, done, total)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        stage, done, total = self._state
        try:
            ours = run_transaction(self.context.sessions, lambda s: queue.heartbeat(
                s, self.job, self.context.clock.now(), stage=stage, done=done, total=total))
        except DBAPIError:
            log.warning("job %s: heartbeat not written", self.job.id, exc_info=True)
            return
        if not ours:  # the job went back to the queue: finishing it will roll its work back (LeaseLost)
            log.warning("job %s: no longer %s's", self.job.id, self.job.worker)


def run_next(context: JobContext, handlers: Mapping[str, Handler], worker: str) -> bool:
    """Run one queued job of the kinds in ``handlers``; False if there was none."""
    def pick(session: Session) -> Claimed | None:
        now = context.clock.now()
        requeued, failed = queue.take_back(session, now)
        if requeued or failed:
            log.warning("jobs of stopped workers: %d queued again, %d failed", requeued, failed)
        return queue.claim(session, worker, now, tuple(handlers))

    job = run_transaction(context.sessions, pick)
    if job is None:
        return False
    log.info("job %s (%s): try %d by %s", job.id, job.kind, job.attempt, worker)
    with Heartbeat(context, job) as beat:
        _run(context, handlers[job.kind], job, beat)
    return True


def _run(context: JobContext, handler: Handler, job: Claimed, beat: Heartbeat) -> None:
    try:
        handler(context, job, beat.progress)
    except LeaseLost:
        log.warning("job %s: lease lost while running; its work was rolled back", job.id)
    except Refused as exc:
        message, values = exc.message, dict(exc.values)
        _end(context, lambda s: queue.fail(s, job, context.clock.now(), message, values))
    except DBAPIError:
        log.exception("job %s: the database failed; the job goes back to the queue", job.id)
        _end(context, lambda s: queue.release(s, job))
    except Exception as exc:  # a bug: the job fails loudly, the worker goes on with the next
        log.exception("job %s failed", job.id)
        kind = type(exc).__name__
        _end(context, lambda s: queue.fail(s, job, context.clock.now(), UNEXPECTED, {"error": kind}))
    else:
        log.info("job %s done", job.id)


def _end(context: JobContext, write: Callable[[Session], None]) -> None:
    try:
        run_transaction(context.sessions, write)
    except DBAPIError:  # the lease runs out and the next worker decides
        log.exception("could not record how a job ended")


def serve(context: JobContext, handlers: Mapping[str, Handler], stop: threading.Event, *,
          worker: str | None = None, idle_s: float = 1.0) -> None:
    """Run jobs until ``stop`` is set, looking for new ones every ``idle_s`` when there are none."""
    name = worker or worker_name()
    log.info("job worker %s started", name)
    while not stop.is_set():
        try:
            busy = run_next(context, handlers, name)
        except DBAPIError:
            log.warning("job worker %s: database unavailable", name, exc_info=True)
            busy = False
        if not busy:
            stop.wait(idle_s)


def start_thread(context: JobContext, handlers: Mapping[str, Handler]) -> threading.Event:
    """A job worker in a daemon thread of this process (``minyi web`` on one machine); set the
    returned event to stop it after its current job."""
    stop = threading.Event()
    threading.Thread(target=serve, args=(context, handlers, stop), name="minyi-jobs", daemon=True).start()
    return stop
