"""survey.bulk.execute_many: the rows stored as ``Session.execute`` would store them."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from survey.bulk import execute_many

_meta = MetaData()
_rows = Table("bulk_rows", _meta, Column("id", Integer, primary_key=True), Column("at", DateTime),
              Column("note", String(20)))
_WRITE = _rows.update().where(_rows.c.id == bindparam("row_id"), _rows.c.note.is_not(None)) \
    .values(at=bindparam("v_at"), note=func.coalesce(bindparam("v_note"), "none"))
_CLEAR = _rows.update().where(_rows.c.id == bindparam("row_id")).values(note=None, at=bindparam("at"))


def _stored(session: Session) -> list[tuple[object, ...]]:
    """As the database holds them (SQLite: datetimes as text)."""
    return [tuple(r) for r in session.execute(text("SELECT id, at, note FROM bulk_rows ORDER BY id"))]


def test_rows_written_as_session_execute_writes_them(engine: Engine) -> None:
    _meta.create_all(engine)
    try:
        rows = [{"row_id": i, "v_at": datetime(2026, 11, 2, 10, 30, 0, 7 * i) if i % 2 else None,
                 "v_note": f"n{i}" if i < 4 else None} for i in range(1, 5)]
        stored = []
        for write in (lambda s: s.execute(_WRITE, rows), lambda s: execute_many(s, _WRITE, rows)):
            with Session(engine) as s, s.begin():
                s.execute(_rows.delete())
                s.execute(_rows.insert(), [{"id": i, "note": "x"} for i in range(1, 6)])
                write(s)
                stored.append(_stored(s))
                assert s.execute(select(_rows.c.at).where(_rows.c.id == 1)).scalar() == datetime(2026, 11, 2, 10, 30, 0, 7)
        assert stored[0] == stored[1] and stored[1][4][1:] == (None, "x")  # row 5 untouched
        assert stored[1][3][2] == "none"
    finally:
        _meta.drop_all(engine)


def test_values_the_statement_gives_itself_are_written(engine: Engine) -> None:
    _meta.create_all(engine)
    try:
        with Session(engine) as s, s.begin():
            s.execute(_rows.insert(), [{"id": i, "note": "x"} for i in range(1, 3)])
            execute_many(s, _CLEAR, [{"row_id": 1, "at": datetime(2026, 11, 2)}])
            assert [r[1:] for r in s.execute(select(_rows).order_by(_rows.c.id))] == [
                (datetime(2026, 11, 2), None), (None, "x")]
    finally:
        _meta.drop_all(engine)


def test_expanding_parameters_are_refused(engine: Engine) -> None:
    with Session(engine) as s, pytest.raises(ValueError, match="plain bind parameters"):
        execute_many(s, _rows.delete().where(_rows.c.id.in_(bindparam("ids", expanding=True))), [{"ids": [1]}])
