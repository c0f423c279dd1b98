"""The local PostgreSQL for tests: reach it (starting it if it is down) and make migrated schemas.

A module of its own rather than part of ``conftest.py``: test modules import ``pg_schema``, and
``from conftest import ...`` finds whichever conftest pytest loaded last.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from survey.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("MINYI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:
        return False


def ensure_pg() -> None:
    if pg_available():
        return
    subprocess.run("pg_ctlcluster --skip-systemctl-redirect 15 main start", shell=True, check=False,
                   capture_output=True, timeout=60)
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started")


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
