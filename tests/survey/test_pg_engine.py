"""PostgreSQL engines: no JIT, TCP keepalives, and a pooled connection the server closed is replaced
when it is handed out, with no ``SELECT 1`` before every use (``pool_pre_ping`` did that)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_support import pg_schema
from sqlalchemy import Engine, create_engine, event, text

from survey.db import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(pg_server_url: str) -> Iterator[Engine]:
    with pg_schema(pg_server_url) as url:
        engine = make_engine(url, connect_args={"application_name": "minyi-test"})
        yield engine
        engine.dispose()


def test_jit_is_off_and_the_urls_search_path_and_callers_arguments_are_kept(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        assert conn.scalar(text("SHOW jit")) == "off"
        assert conn.scalar(text("SHOW search_path")).startswith("t_")
        assert conn.scalar(text("SHOW application_name")) == "minyi-test"
        dsn = conn.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
    assert "keepalives=1" in dsn and "keepalives_idle=30" in dsn


def test_a_connection_the_server_ended_is_replaced_without_a_ping(pg_engine: Engine, pg_server_url: str) -> None:
    sent: list[str] = []
    event.listen(pg_engine, "before_cursor_execute", lambda _c, _cur, statement, *_a: sent.append(statement))
    with pg_engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(pg_server_url)
    with admin.begin() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    admin.dispose()
    with pg_engine.connect() as conn:  # the pooled connection is dead: a fresh one, no error
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    assert sent == ["SELECT pg_backend_pid()"] * 2  # nothing else went out: no ping
