"""Writers of one SQLite file take turns through the side lock, and give the turn back with the transaction."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from survey.db import make_engine
from survey.sqlite_turns import TurnTakingConnection


def connect(path: Path, timeout: float = 5.0) -> TurnTakingConnection:
    conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False, factory=TurnTakingConnection)
    assert isinstance(conn, TurnTakingConnection)
    return conn


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = tmp_path / "t.db"
    conn = connect(db)
    conn.cursor().execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    return db


@pytest.fixture
def side_lock(path: Path) -> Iterator[int]:
    """The side file, opened as another process would."""
    fd = os.open(f"{path}.writers", os.O_RDWR)
    yield fd
    os.close(fd)


def turn_is_free(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_the_first_write_takes_the_turn_and_the_transaction_s_end_gives_it_back(path: Path, side_lock: int,
                                                                              end: str) -> None:
    conn = connect(path)
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM t").fetchall()
    assert turn_is_free(side_lock)  # reading takes no turn
    cur.execute("INSERT INTO t VALUES (1)")
    assert not turn_is_free(side_lock)
    cur.executemany("INSERT INTO t VALUES (?)", [(2,), (3,)])  # the same turn
    getattr(conn, end)()
    assert turn_is_free(side_lock)
    assert cur.execute("SELECT count(*) FROM t").fetchone() == ((3,) if end == "commit" else (0,))
    conn.close()


def test_a_second_writer_waits_for_the_first_to_commit_then_writes_at_once(path: Path) -> None:
    first, second = connect(path), connect(path)
    first.cursor().execute("INSERT INTO t VALUES (1)")
    done: list[float] = []

    def write() -> None:
        second.cursor().execute("INSERT INTO t VALUES (2)")
        second.commit()
        done.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.24)  # SQLite's own busy handler would be asleep until 0.328 s now
    assert not done  # still waiting for its turn
    committed = time.monotonic()
    first.commit()
    writer.join(timeout=5)
    assert done and 0 <= done[0] - committed < 0.05
    assert sorted(first.cursor().execute("SELECT x FROM t").fetchall()) == [(1,), (2,)]


def test_a_writer_kept_waiting_past_its_busy_timeout_goes_on_to_sqlite(path: Path, side_lock: int) -> None:
    """The side lock only orders writers: held by something else (not SQLite), it delays a writer by
    the busy timeout at most, and SQLite, whose lock is free, lets the write through."""
    fcntl.flock(side_lock, fcntl.LOCK_EX)
    conn = connect(path, timeout=0.2)
    began = time.monotonic()
    conn.cursor().execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert 0.2 <= time.monotonic() - began < 2
    fcntl.flock(side_lock, fcntl.LOCK_UN)
    conn.close()


def test_sqlite_files_get_turn_taking_connections_and_memory_databases_plain_ones(path: Path) -> None:
    on_file = make_engine(f"sqlite:///{path}").raw_connection()
    in_memory = make_engine("sqlite://").raw_connection()
    assert isinstance(on_file.driver_connection, TurnTakingConnection)
    assert not isinstance(in_memory.driver_connection, TurnTakingConnection)
    on_file.close()
    in_memory.close()
