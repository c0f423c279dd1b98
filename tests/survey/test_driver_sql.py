"""Statements run straight on the driver (survey/driver_sql.py) read and write what
``Session.execute`` reads and writes, on SQLite (the driver path) and PostgreSQL (through SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from unittest.mock import patch

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey import driver_sql
from survey.db import make_engine

_meta = MetaData()
_rows = Table("driver_sql_rows", _meta, Column("id", Integer, primary_key=True), Column("status", String(20)),
              Column("n", Integer), Column("at", DateTime), Column("flag", Boolean), Column("blob", LargeBinary))
_c = _rows.c
_T0 = datetime(2026, 11, 2, 10, 30, 0, 250)
_SELECT = (select(_c.id, _c.status, _c.at, _c.flag, _c.blob)
           .where(_c.id.in_(bindparam("ids", expanding=True)), _c.at <= bindparam("now"))
           .order_by(_c.at, _c.id).limit(bindparam("n")).offset(0))
_BUMP = (update(_rows).where(_c.id.in_(bindparam("ids", expanding=True)), _c.status.in_(("new", "scheduled")))
         .values(n=_c.n + 1, status=literal_column("'leased'"), at=bindparam("at"))
         .returning(_c.id, _c.n, _c.at, _c.flag))
_WRITE = update(_rows).where(_c.id == bindparam("row_id")).values(at=bindparam("v_at"), flag=bindparam("v_flag"))


@pytest.fixture
def filled(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    _meta.create_all(engine)
    with Session(engine) as s, s.begin():
        s.execute(_rows.insert(), [{"id": i, "status": ("new", "scheduled", "final")[i % 3], "n": i,
                                    "at": _T0.replace(minute=i) if i % 4 else None, "flag": i % 2 == 0,
                                    "blob": bytes([i])} for i in range(1, 25)])
    yield engine
    _meta.drop_all(engine)
    engine.dispose()


def _both(engine: Engine, run: Any) -> tuple[Any, Any]:
    """``run(session, driver)`` with SQLAlchemy's execute and with driver_sql, each in a
    transaction rolled back, so both see the same rows."""
    out = []
    for driver in (False, True):
        with Session(engine) as s:
            out.append(run(s, driver))
            s.rollback()
    return out[0], out[1]


def test_rows_read_what_session_execute_reads(filled: Engine) -> None:
    params = {"ids": [1, 2, 3, 5, 6, 7, 9, 10, 11, 13], "now": _T0.replace(minute=10), "n": 6}
    plain, driver = _both(filled, lambda s, d: driver_sql.rows(s, _SELECT, params) if d
                          else [tuple(r) for r in s.execute(_SELECT, params).all()])
    assert driver == plain
    assert [type(v) for v in driver[0]] == [int, str, datetime, bool, bytes]
    assert len(driver) == 6


def test_returning_writes_and_returns_what_session_execute_does(filled: Engine) -> None:
    params = {"ids": [1, 2, 3, 4, 5, 6], "at": _T0.replace(second=7, microsecond=0)}

    def run(s: Session, driver: bool) -> tuple[Any, Any]:
        got = driver_sql.rows(s, _BUMP, params) if driver else [tuple(r) for r in s.execute(_BUMP, params).all()]
        stored = s.execute(text("SELECT id, status, n, CAST(at AS TEXT) FROM driver_sql_rows ORDER BY id")).all()
        return sorted(got), stored

    plain, driver = _both(filled, run)
    assert driver == plain
    assert [row[0] for row in driver[0]] == [1, 3, 4, 6]  # not the final ones (2, 5)


def test_execute_many_stores_what_session_execute_stores(filled: Engine) -> None:
    values = [(i, _T0.replace(hour=12, microsecond=i), i % 3 == 0) for i in range(1, 20, 2)]

    def run(s: Session, driver: bool) -> Any:
        if driver:
            driver_sql.execute_many(s, _WRITE, ("row_id", "v_at", "v_flag"), values)
        else:
            s.execute(_WRITE, [{"row_id": i, "v_at": at, "v_flag": flag} for i, at, flag in values])
        return s.execute(text("SELECT id, CAST(at AS TEXT), flag FROM driver_sql_rows ORDER BY id")).all()

    plain, driver = _both(filled, run)
    assert driver == plain


def test_nothing_to_write_and_an_empty_list_are_left_to_sqlalchemy(filled: Engine) -> None:
    with Session(filled) as s:
        driver_sql.execute_many(s, _WRITE, ("row_id", "v_at", "v_flag"), [])
        assert driver_sql.rows(s, _SELECT, {"ids": [], "now": _T0, "n": 5}) == []
        assert s.execute(text("SELECT count(*) FROM driver_sql_rows WHERE flag")).scalar() == 12


def test_statements_are_seen_by_the_engines_listeners(filled: Engine) -> None:
    seen: list[str] = []
    event.listen(filled, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))
    with Session(filled) as s:
        driver_sql.rows(s, _SELECT, {"ids": [1, 2], "now": _T0, "n": 5})
        driver_sql.execute_many(s, _WRITE, ("row_id", "v_at", "v_flag"), [(1, _T0, True)])
        s.rollback()
    assert len(seen) == 2 and seen[0].startswith("SELECT") and seen[1].startswith("UPDATE")


def test_insert_returning_inserts_and_returns_what_session_execute_does(filled: Engine) -> None:
    statement = _rows.insert().returning(_c.id, _c.at)
    names = ("id", "status", "n", "at", "flag", "blob")
    values = [(100 + i, "new", i, _T0.replace(second=i, microsecond=3), i % 2 == 1, b"x") for i in range(7)]

    def run(s: Session, driver: bool) -> tuple[Any, Any]:
        if driver:
            with patch.object(driver_sql, "_ROWS_AN_INSERT", 3):  # three statements
                got = driver_sql.insert_returning(s, statement, names, values)
        else:
            got = [tuple(r) for r in s.execute(statement, [dict(zip(names, v, strict=True)) for v in values]).all()]
        stored = s.execute(text("SELECT id, status, n, CAST(at AS TEXT), flag, blob FROM driver_sql_rows "
                                "WHERE id >= 100 ORDER BY id")).all()
        return sorted(got), stored

    plain, driver = _both(filled, run)
    assert driver == plain
    assert len(driver[1]) == 7


def test_the_drivers_errors_come_as_sqlalchemys(filled: Engine) -> None:
    """What the retry policy (survey/transactions.py) catches: DBAPIError and its kinds."""
    statement = _rows.insert().returning(_c.id)
    names = ("id", "status", "n", "at", "flag", "blob")
    for write in (lambda s: driver_sql.insert_returning(s, statement, names, [(1, "new", 1, _T0, True, b"x")]),
                  lambda s: driver_sql.execute_many(s, _rows.insert(), names, [(2, "new", 2, _T0, True, b"x")])):
        with Session(filled) as s, pytest.raises(IntegrityError) as raised:
            write(s)
        assert raised.value.orig is not None  # the driver's own error, as SQLAlchemy keeps it
