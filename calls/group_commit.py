"""Group commit: the keys of many live calls stored in one transaction.

A key on a live call changes little: its answer (one row per question) and the interview's
state, status and time. One worker serves a whole app: it takes every call waiting with an event
(a key, a timeout, a hang-up) and, in ONE thread hand-off, feeds each call's engine its event,
turns what that changed into rows (:func:`take`) and writes the rows of them all with two Core
statements (an upsert of the answers, an update of the interviews) in ONE transaction
(:meth:`calls.service.CallService.handle_together`). Each call is woken when that transaction has
committed, and plays its next prompt only then: no answer is acknowledged before it is stored.
Whatever else an event may do (a task for staff, the do-not-call list, a callback, a recording,
answers cleared) is committed by the call's own session as before.

While a batch is being done, the events that arrive queue up for the next one, so the more
calls are waiting, the more keys a transaction carries. A transaction that fails fails for every
call in it; each call then reloads its interview as last committed and feeds its event again
(:meth:`calls.service.CallService.recover`), as it would after its own commit failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar, cast

import anyio
from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from calls.interviews import SET_LANGUAGE, STORE_ANSWERS, InterviewSession
from survey.models import Case, Interview

In = TypeVar("In")
Out = TypeVar("Out")
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
    changed = list(inspect(interview).committed_state)
    case = _language_only(session, interview)
    transaction = session.get_transaction()  # begun by the first change, with no connection unless it used one
    if ((transaction is not None and transaction.connections) or session.new or session.deleted
            or not set(changed) <= set(WRITTEN) or case is False):
        return None
    pending = run.take_pending()
    if pending is None:
        return None
    answers, language = pending
    if case is not None:
        language = case.language
        set_committed_value(case, "language", case.language)
    values = {f"w_{name}": getattr(interview, name) for name in WRITTEN}
    for name in changed:
        set_committed_value(interview, name, getattr(interview, name))
    chosen = None if language is None else {"case_id": interview.case_id, "chosen": language}
    return KeyWrite({"w_id": interview.id, **values}, answers, chosen)


def _language_only(session: Session, interview: Interview) -> Case | None | Literal[False]:
    """The interview's case when the language chosen is all that changed on it besides the
    interview; None when nothing else changed; False when something else did."""
    others = [o for o in session.dirty if o is not interview]
    if not others:
        return None
    case = others[0]
    if (len(others) == 1 and isinstance(case, Case) and case.id == interview.case_id
            and set(inspect(case).committed_state) <= {"language"}):
        return case
    return False


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
class _Waiting(Generic[In, Out]):
    item: In
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Out | Exception | None = None


class GroupCommit(Generic[In, Out]):
    """The app's database worker for keys (see the module's docstring): ``work`` takes every
    item waiting (a call and its event) in one thread and gives each its outcome, a result or an
    exception (:meth:`calls.service.CallService.handle_together`). :meth:`run` is its task;
    :meth:`submit` is what a call awaits. Counts the :attr:`batches` and :attr:`items`.

    Up to ``parallel`` batches are done at once: a batch spends most of its time waiting for the
    database's round trips (on a loaded machine, for the database server's turn on a core), and
    the calls whose keys come meanwhile need not wait for it. A call has one item at a time, so
    its own items are still done in order."""

    def __init__(self, work: Callable[[list[In]], list[Out | Exception]], *, parallel: int = 4) -> None:
        self.work = work
        self.batches = 0
        self.items = 0
        self._queue: list[_Waiting[In, Out]] = []
        self._arrived: anyio.Event | None = None
        self._free = anyio.Semaphore(parallel)
        self._running = False

    async def submit(self, item: In) -> Out:
        """``item``'s result once its batch is done, or the exception it failed with. Not
        cancelled half-way: a call stopped meanwhile still learns whether its key was stored."""
        waiting: _Waiting[In, Out] = _Waiting(item)
        with anyio.CancelScope(shield=True):
            if self._running:
                self._queue.append(waiting)
                if self._arrived is not None:
                    self._arrived.set()
                await waiting.done.wait()
            else:  # the app is stopping: the worker is gone, do it here
                await self._do([waiting])
        if isinstance(waiting.result, Exception):
            raise waiting.result
        return cast(Out, waiting.result)

    async def run(self) -> None:
        """Do what is waiting, in batches, until cancelled; what is waiting then is done before
        it returns."""
        self._running = True
        try:
            async with anyio.create_task_group() as batches:
                while True:
                    while not self._queue:
                        self._arrived = anyio.Event()
                        await self._arrived.wait()
                    await self._free.acquire()
                    batch, self._queue = self._queue, []
                    batches.start_soon(self._batch, batch)
        finally:
            self._running = False
            with anyio.CancelScope(shield=True):
                while self._queue:
                    batch, self._queue = self._queue, []
                    await self._do(batch)

    async def _batch(self, batch: list[_Waiting[In, Out]]) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self._do(batch)
            finally:
                self._free.release()

    async def _do(self, batch: list[_Waiting[In, Out]]) -> None:
        try:
            results = await anyio.to_thread.run_sync(self.work, [w.item for w in batch])
        except Exception as exc:  # a bug in work: every call in the batch learns of it
            results = [exc] * len(batch)
        self.batches += 1
        self.items += len(batch)
        for waiting, result in zip(batch, results, strict=True):
            waiting.result = result
            waiting.done.set()
