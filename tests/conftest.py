"""Shared fixtures: a virtual clock, and migrated databases on SQLite and on PostgreSQL.

PostgreSQL tests get a database of their own (``minyi_test_<random>``), dropped afterwards, so
parallel runs never see each other. ``db_url`` is parametrised over both back ends.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from survey.clock import VirtualClock
from survey.db import make_engine, session_factory, upgrade

PG_ADMIN_URL = os.environ.get("MINYI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:
        return False


def _ensure_pg() -> None:
    if _pg_available():
        return
    subprocess.run("pg_ctlcluster --skip-systemctl-redirect 15 main start", shell=True, check=False,
                   capture_output=True, timeout=60)
    if not _pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session."""
    _ensure_pg()
    name = f"minyi_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a restart
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 11, 2, 10, 30))  # Monday 18:30 in Asia/Shanghai


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database URL on each back end."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db')}/minyi.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    with pg_schema(request.getfixturevalue("pg_server_url")) as url:
        yield url


@contextmanager
def pg_schema(server_url: str, prefix: str = "t") -> Iterator[str]:
    """A migrated schema of its own in the test database; its URL sets the search path."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{server_url}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s
