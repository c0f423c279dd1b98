"""Group commit: the keys of many live calls stored in one transaction.

A key on a live call changes little: its answer (one row per question) and the interview's
state, status and time. :func:`take` turns what one event changed into those rows; a
:class:`GroupCommit` worker writes the rows of every call that is waiting, together, with two
Core statements (an upsert of the answers, an update of the interviews) in ONE transaction, and
wakes each call when that transaction has committed. A call plays its next prompt only then: no
answer is acknowledged before it is stored. Everything else an event may do (a task for staff, the
do-not-call list, a callback, a recording, answers cleared) goes through the session as before
(:meth:`calls.service.CallService.feed_grouped` commits it there).

One worker serves a whole app: while a transaction is being written, the keys that arrive
queue up for the next one, so the more calls are waiting, the more keys a transaction carries.
A transaction that fails fails for every call in it; each call then reloads its interview as last
committed and feeds its event again (:meth:`calls.service.CallService.recover`), as it would
after its own commit failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, cast

import anyio
from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from calls.interviews import SET_LANGUAGE, STORE_ANSWERS, InterviewSession
from survey.models import Interview

_interviews = cast(Table, Interview.__table__)
# What the engine's answer, status and language effects change on an interview (InterviewSession)
WRITTEN: Final = ("status", "current_question", "completed_at", "consent", "language", "state", "updated_at")
_UPDATE = update(_interviews).where(_interviews.c.id == bindparam("w_id")).values(
    {name: bindparam(f"w_{name}", type_=_interviews.c[name].type) for name in WRITTEN})


@dataclass(frozen=True)
class KeyWrite:
    """One event's rows: the interview's new values, its answers, its case's chosen language."""

    interview: dict[str, Any]
    answers: list[dict[str, Any]]
    case_language: dict[str, Any] | None


def take(run: InterviewSession) -> KeyWrite | None:
    """What the last event changed, as rows for a group commit; afterwards the session holds
    nothing to write. None when the event changed more than these rows can say (its session did
    database work, has other changes, or a recording is pending): the session must commit it."""
    session, interview = run.session, run.interview
    changed = inspect(interview).committed_state.keys()
    transaction = session.get_transaction()  # begun by the first change, with no connection unless it used one
    if ((transaction is not None and transaction.connections) or session.new or session.deleted
            or not set(changed) <= set(WRITTEN) or any(o is not interview for o in session.dirty)):
        return None
    pending = run.take_pending()
    if pending is None:
        return None
    answers, language = pending
    values = {f"w_{name}": getattr(interview, name) for name in WRITTEN}
    for name in list(changed):
        set_committed_value(interview, name, getattr(interview, name))
    chosen = None if language is None else {"case_id": interview.case_id, "chosen": language}
    return KeyWrite({"w_id": interview.id, **values}, answers, chosen)


def write(session: Session, writes: list[KeyWrite]) -> None:
    """The rows of ``writes`` with one statement per table (the caller commits)."""
    db = session.connection()
    answers = [row for w in writes for row in w.answers]
    if answers:
        db.execute(STORE_ANSWERS[db.dialect.name], answers).all()
    db.execute(_UPDATE, [w.interview for w in writes])
    languages = [w.case_language for w in writes if w.case_language is not None]
    if languages:
        db.execute(SET_LANGUAGE, languages)


@dataclass(eq=False)
class _Waiting:
    write: KeyWrite
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None


class GroupCommit:
    """The app's one database writer of keys (see the module's docstring). :meth:`run` is its
    task; :meth:`store` is what a call awaits. Counts what it wrote: :attr:`transactions` and
    :attr:`keys`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.transactions = 0
        self.keys = 0
        self._queue: list[_Waiting] = []
        self._arrived: anyio.Event | None = None
        self._running = False

    async def store(self, write: KeyWrite) -> None:
        """Return once ``write`` is committed; raise what the transaction failed with. Not
        cancelled half-way: a call stopped meanwhile still learns whether its key was stored."""
        waiting = _Waiting(write)
        with anyio.CancelScope(shield=True):
            if self._running:
                self._queue.append(waiting)
                if self._arrived is not None:
                    self._arrived.set()
                await waiting.done.wait()
            else:  # the app is stopping: the worker is gone, write it here
                await self._commit([waiting])
        if waiting.error is not None:
            raise waiting.error

    async def run(self) -> None:
        """Write what is waiting, one transaction at a time, until cancelled; what is waiting
        then is written before it returns."""
        self._running = True
        try:
            while True:
                while not self._queue:
                    self._arrived = anyio.Event()
                    await self._arrived.wait()
                batch, self._queue = self._queue, []
                with anyio.CancelScope(shield=True):
                    await self._commit(batch)
        finally:
            self._running = False
            with anyio.CancelScope(shield=True):
                while self._queue:
                    batch, self._queue = self._queue, []
                    await self._commit(batch)

    async def _commit(self, batch: list[_Waiting]) -> None:
        try:
            await anyio.to_thread.run_sync(self._transaction, [w.write for w in batch])
        except Exception as exc:  # each call decides what a failed commit means for it
            for waiting in batch:
                waiting.error = exc
        else:
            self.transactions += 1
            self.keys += len(batch)
        for waiting in batch:
            waiting.done.set()

    def _transaction(self, writes: list[KeyWrite]) -> None:
        with self.sessions() as session, session.begin():
            write(session, writes)
