"""The keys of many calls stored in one transaction (calls/group_commit.py), what a failed group
commit does to the calls in it, and each call's events read in the order they came."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, cast

import anyio
import pytest
from ari_fake import FakeAsterisk, Resident, answers
from asterisk_world import COMPLETE, World, wait_until_idle
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from calls import group_commit
from calls.group_commit import GroupCommit, KeyWrite
from calls.operations import Turn
from calls.service import CallService
from ivr.channels.asterisk.app import AriApp
from ivr.channels.asterisk.ari import AriConfig
from ivr.channels.asterisk.calls import Call
from ivr.channels.asterisk.options import AsteriskOptions
from ivr.engine import Digits
from survey.clock import VirtualClock
from survey.models import Answer, Interview
from survey.vocabulary import RESUMABLE, AttemptStatus, InterviewStatus

NUMBERS = [f"+86138001380{i:02d}" for i in range(6)]


def _engine(sessions: sessionmaker[Session]) -> Engine:
    return cast(Engine, sessions.kw["bind"])


def test_keys_of_many_calls_are_committed_in_one_transaction(world: World, sessions: sessionmaker[Session]) -> None:
    service = CallService(sessions, world.clock)
    live = [service.answer(world.dial(n).attempt_id, can_transfer=False)[0] for n in NUMBERS]
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(_engine(sessions), "commit", committed)
    chosen = service.handle_together([(c, Digits("1", complete=False)) for c in live])  # the language menu
    turns = service.handle_together([(c, Digits("1", complete=False)) for c in live])  # consent
    event.remove(_engine(sessions), "commit", committed)
    assert len(commits) == 2
    assert [t.step.question_id for t in chosen if isinstance(t, Turn)] == ["consent"] * len(NUMBERS)
    assert [t.step.question_id for t in turns if isinstance(t, Turn)] == ["s_age"] * len(NUMBERS)
    with sessions() as s:
        for c in live:
            stored = s.get(Interview, c.interview_id)
            assert stored is not None and stored.state == c.run.engine.snapshot()
            assert stored.current_question == "s_age" and stored.consent is True
            assert stored.case.language == stored.language == c.run.interview.language
            assert s.scalars(select(Answer.code).where(Answer.interview_id == c.interview_id,
                                                       Answer.question_id == "consent")).all() == [1]
    for c in live:
        service.close(c)


def test_what_waits_while_a_batch_is_done_goes_in_the_next_one() -> None:
    batches: list[list[int]] = []
    release = threading.Event()

    def work(items: list[int]) -> list[int | Exception]:
        batches.append(items)
        release.wait(5)  # the first batch is slow: the others pile up behind it
        return [-i if i != 3 else ValueError("three") for i in items]

    group: GroupCommit[int, int] = GroupCommit(work)
    results: dict[int, object] = {}

    async def one(i: int) -> None:
        try:
            results[i] = await group.submit(i)
        except ValueError as exc:
            results[i] = str(exc)

    async def main() -> None:
        async with anyio.create_task_group() as worker:
            worker.start_soon(group.run)
            async with anyio.create_task_group() as calls:
                calls.start_soon(one, 0)
                await anyio.sleep(0.05)
                for i in range(1, 6):
                    calls.start_soon(one, i)
                await anyio.sleep(0.05)
                release.set()
            worker.cancel_scope.cancel()

    anyio.run(main)
    assert batches == [[0], [1, 2, 3, 4, 5]] and (group.batches, group.items) == (2, 6)
    assert results == {0: 0, 1: -1, 2: -2, 3: "three", 4: -4, 5: -5}


def test_the_app_stores_keys_one_batch_at_a_time_on_sqlite_and_several_at_once_on_a_server(
        sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """SQLite writes one transaction at a time: batches side by side only queued for its write
    turn (issue 22). A database server takes several at once, each waiting for its round trips."""
    app = AriApp(AriConfig("http://127.0.0.1:1", "minyi", "secret"), AsteriskOptions(), sessions, clock)
    running, most = 0, 0

    def work(items: list[Any]) -> list[Any]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        time.sleep(0.05)
        running -= 1
        return items

    app.keys.work = work

    async def main() -> None:
        async with anyio.create_task_group() as worker:
            worker.start_soon(app.keys.run)
            async with anyio.create_task_group() as calls:
                for i in range(3):
                    calls.start_soon(app.keys.submit, i)
                    await anyio.sleep(0.01)  # each key comes while the batches before it are being done
            worker.cancel_scope.cancel()

    anyio.run(main)
    assert most == (1 if _engine(sessions).dialect.name == "sqlite" else 3)


def _failing(monkeypatch: pytest.MonkeyPatch, message: str, *, times: int | None) -> list[int]:
    """Group commits fail with ``message`` (``times`` of them, or all); the keys each carried."""
    failed: list[int] = []
    write = group_commit.write

    def failing(session: Session, writes: list[KeyWrite]) -> None:
        if times is None or len(failed) < times:
            failed.append(len(writes))
            raise OperationalError("COMMIT", {}, Exception(message))
        write(session, writes)

    monkeypatch.setattr(group_commit, "write", failing)
    return failed


def _answers(sessions: sessionmaker[Session], attempt_id: int) -> dict[str, Any]:
    with sessions() as s:
        return {q: c for q, c in s.execute(select(Answer.question_id, Answer.code).join(Interview).where(
            Interview.last_attempt_id == attempt_id))}


def test_a_lost_connection_under_group_commits_loses_no_answer(fake: FakeAsterisk, world: World, open_channel,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    failed = _failing(monkeypatch, "server closed the connection unexpectedly", times=3)
    for number in NUMBERS:
        fake.residents[number] = Resident(answers(*COMPLETE))
    channel = open_channel()
    requests = [world.dial(n) for n in NUMBERS]
    for request in requests:
        channel.place_call(request)
    wait_until_idle(channel, 60)
    assert len(failed) == 3
    for request in requests:  # every call reloaded its interview and stored its key again
        out = world.outcome(request.attempt_id)
        assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
        assert out.answers["q_procuratorate"] == 3 and out.answers["d_years"] == 15.0
        assert len(out.answers) == len(COMPLETE) - 1  # every question but the language menu
        assert out.attempt.status == AttemptStatus.COMPLETED


def test_a_group_commit_that_fails_for_good_acknowledges_nothing(fake: FakeAsterisk, world: World, open_channel,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    failed = _failing(monkeypatch, "disk I/O error", times=None)  # neither transient nor a lost connection
    for number in NUMBERS:
        fake.residents[number] = Resident(answers(*COMPLETE))
    channel = open_channel()
    requests = [world.dial(n) for n in NUMBERS]
    for request in requests:
        channel.place_call(request)
    wait_until_idle(channel, 60)
    assert sum(failed) == len(NUMBERS)  # each call's first key (the language menu), tried once
    played = [q["media"] for kind, q in fake.requests if kind == "channels.play"]
    assert played and not any("consent" in media for media in played)  # no prompt after the unstored key
    for request in requests:
        out = world.outcome(request.attempt_id)
        assert _answers(world.sessions, request.attempt_id) == {}
        assert out.interview is not None and out.interview.status in RESUMABLE
        assert out.interview.current_question is None  # resumes at the key that was not stored: the first
        assert out.attempt.hangup_cause == "app_error" and out.attempt.status != AttemptStatus.IN_PROGRESS


def test_a_calls_events_are_read_in_the_order_they_came() -> None:
    async def main() -> list[int]:
        call = Call(1, datetime(2026, 11, 2), 30)
        got: list[int] = []

        async def read() -> None:
            while len(got) < 300:
                item = await call.receive()
                assert isinstance(item, dict)
                got.append(int(item["n"]))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            for n in range(300):
                call.post({"type": "ChannelDtmfReceived", "n": n})
                if n % 7 == 0:
                    await anyio.sleep(0)  # the reader waits sometimes, and sometimes finds many
        return got

    assert anyio.run(main) == list(range(300))


def test_attempts_move_forward_together_and_one_missing_stops_none(world: World,
                                                                    sessions: sessionmaker[Session]) -> None:
    service = CallService(sessions, world.clock)
    first, second = (world.dial(n).attempt_id for n in NUMBERS[:2])
    moved = service.progress_together([(first, AttemptStatus.RINGING), (10_000_000, AttemptStatus.RINGING),
                                       (second, AttemptStatus.IN_PROGRESS)])
    assert moved == [True, False, True]  # no such attempt: nothing moved, and the others go on
    assert service.progress_together([(second, AttemptStatus.RINGING)]) == [False]  # never backwards
    assert world.outcome(first).attempt.status == AttemptStatus.RINGING
    assert world.outcome(second).attempt.status == AttemptStatus.IN_PROGRESS
