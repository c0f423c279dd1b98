"""The dialer's hottest Core statements on SQLite, straight to the driver's cursor.

``Session.execute`` spends more time on each of these statements than SQLite does: a cache key
built from the statement's tree, a dictionary of parameters and a bind processor call per value
(per row of an executemany), an execution context and a result object. A simulated campaign runs
them hundreds of thousands of times, always the same few statements. :func:`rows` and
:func:`execute_many` compile a statement once, keep its SQL, its parameters' positional order and
their bind processors (SQLite stores datetimes as text) and its columns' result processors, and
run it on the session's connection (same transaction, same SQLite writers' turns, the engine's
``before_cursor_execute`` listeners called as SQLAlchemy calls them). Rows come back as tuples.

On another database (PostgreSQL: its driver converts values itself, and dialer/pick_lease.py reads
there in one statement) both go through ``Session.execute``, as does a statement given an empty
list for an expanding parameter (SQLAlchemy renders those specially).

The driver's errors are raised as SQLAlchemy's (:class:`sqlalchemy.exc.DBAPIError`), so the retry
policy sees a locked database as before. What is read of a compiled statement is SQLAlchemy 2.0's
compiler (``positiontup``, ``bind_names``, ``_result_columns``, the ``POSTCOMPILE`` marks of
expanding parameters): tests/survey/test_driver_sql.py checks every path against
``Session.execute``, so a release that changes them fails there, not in a campaign. Measured:
a 100,000-case campaign on SQLite spent 96.2 s of CPU against 126.8 s through ``Session.execute``,
with the same fingerprint of every attempt and case (bench/bench_dialer.py --campaign-only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Executable, Insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None
_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True, slots=True)
class _Prepared:
    parts: tuple[str, ...]  # the SQL around each expanding parameter (one part when there is none)
    expanding: tuple[str, ...]  # the expanding parameters, in the order they split ``parts``
    names: tuple[str, ...]  # every parameter in positional order (expanding ones once)
    processors: tuple[_Processor, ...]  # per name: applied to the value, or to each of a list's
    processing: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor) of the names that have one
    fixed: dict[str, Any]  # values the statement gives itself (``limit(0)``, ``attempts + 1``)
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, processor) of columns that have one


_PREPARED: dict[tuple[Executable, tuple[str, ...] | None], _Prepared] = {}  # module constants: a few dozen
_ROWS_AN_INSERT = 500  # SQLite takes at most 32,766 parameters a statement


def rows(session: Session, statement: Executable, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` (a SELECT, or a DML statement with RETURNING) with ``params``,
    as tuples: ``session.execute(statement, params).all()`` at a fraction of its cost."""
    prepared = _prepare(session, statement)
    if prepared is None or not all(_value(prepared, params, name) for name in prepared.expanding):
        return [tuple(row) for row in session.execute(statement, params).all()]
    sql, values = _render(prepared, params)
    return _run(session, prepared, sql, values)


def insert_returning(session: Session, statement: Insert, names: tuple[str, ...],
                     params: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """What an INSERT ... RETURNING ``statement`` returns for the rows ``params`` (values of the
    columns ``names``), inserted by one statement of many VALUES (in chunks), rows in no
    particular order: ``session.execute(statement, [dict(zip(names, row)) ...]).all()``."""
    prepared = _prepare(session, statement, names)
    if prepared is None:
        return [tuple(row) for row in session.execute(statement, [dict(zip(names, row, strict=True))
                                                                  for row in params]).all()]
    if prepared.names != names or prepared.fixed:
        raise ValueError(f"insert_returning takes every column the INSERT writes, in its order: {prepared.names}")
    one = f"({', '.join('?' * len(names))})"
    head, tail = prepared.parts[0].split(f" VALUES {one} ")
    got: list[tuple[Any, ...]] = []
    for i in range(0, len(params), _ROWS_AN_INSERT):
        chunk = params[i:i + _ROWS_AN_INSERT]
        values = [value for row in chunk for value in _processed(prepared, row)]
        got += _run(session, prepared, f"{head} VALUES {', '.join([one] * len(chunk))} {tail}", values)
    return got


def execute_many(session: Session, statement: Executable, names: tuple[str, ...],
                 params: Sequence[Sequence[Any]]) -> None:
    """``statement`` (no expanding parameter, no RETURNING) once per row of ``params``, whose
    values are those of the parameters ``names`` (every one the statement does not fix), in one
    executemany: ``session.execute(statement, [dict(zip(names, row)) for row in params])`` at a
    fraction of its cost."""
    if not params:  # an executemany of nothing; SQLAlchemy would run the statement once, without parameters
        return
    prepared = _prepare(session, statement)
    if prepared is None:
        session.execute(statement, [dict(zip(names, row, strict=True)) for row in params])
        return
    if prepared.expanding:
        raise ValueError("execute_many takes no expanding parameter")
    fixed = tuple(prepared.fixed[name] for name in prepared.names if name not in names)
    where = {name: i for i, name in enumerate((*names, *(n for n in prepared.names if n not in names)))}
    order = [where[name] for name in prepared.names]
    values = [_processed(prepared, [full[i] for i in order]) for full in
              (((*row, *fixed) if fixed else row) for row in params)]
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        _announce(connection, cursor, prepared.parts[0], values, True)
        with _wrapped(connection, prepared.parts[0], values):
            cursor.executemany(prepared.parts[0], values)
    finally:
        cursor.close()


def _run(session: Session, prepared: _Prepared, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    """``sql`` with ``values`` on the session's connection; its rows, through the result processors."""
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        _announce(connection, cursor, sql, values, False)
        with _wrapped(connection, sql, values):
            got: list[tuple[Any, ...]] = cursor.execute(sql, values).fetchall()
    finally:
        cursor.close()
    if prepared.results:
        for i, row in enumerate(got):
            as_list = list(row)
            for column, process in prepared.results:
                as_list[column] = process(as_list[column])
            got[i] = tuple(as_list)
    return got


def _processed(prepared: _Prepared, row: Sequence[Any]) -> list[Any]:
    """A row of values in positional order, through the bind processors."""
    values = list(row)
    for i, process in prepared.processing:
        values[i] = process(values[i])
    return values


@contextmanager
def _wrapped(connection: Connection, sql: str, values: Any) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (``OperationalError`` for a locked database,
    ``IntegrityError``, ...: :class:`sqlalchemy.exc.DBAPIError`), so that the retry policy
    (survey/transactions.py) and every ``except`` written for SQLAlchemy see them as before."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc


def _announce(connection: Connection, cursor: Any, sql: str, values: Any, many: bool) -> None:
    """The engine's ``before_cursor_execute`` listeners (statement counters), as SQLAlchemy calls them."""
    for listener in connection.dispatch.before_cursor_execute:
        listener(connection, cursor, sql, values, None, many)


def _value(prepared: _Prepared, params: Mapping[str, Any], name: str) -> Any:
    return params[name] if name in params else prepared.fixed[name]


def _render(prepared: _Prepared, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The SQL with a placeholder per element of each expanding parameter, and the values in order."""
    values: list[Any] = []
    for name, process in zip(prepared.names, prepared.processors, strict=True):
        value = _value(prepared, params, name)
        if name in prepared.expanding:
            values += value if process is None else map(process, value)
        else:
            values.append(value if process is None else process(value))
    if not prepared.expanding:
        return prepared.parts[0], values
    sql = [prepared.parts[0]]
    for name, part in zip(prepared.expanding, prepared.parts[1:], strict=True):
        sql += [", ".join("?" * len(_value(prepared, params, name))), part]
    return "".join(sql), values


def _prepare(session: Session, statement: Executable, columns: tuple[str, ...] | None = None) -> _Prepared | None:
    """The statement compiled for SQLite (an INSERT: for the ``columns`` given); None on another
    database (see the module's docstring)."""
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return None
    prepared = _PREPARED.get((statement, columns))
    if prepared is None:
        prepared = _PREPARED[statement, columns] = _compile(statement, dialect, columns)
    return prepared


def _compile(statement: Executable, dialect: Dialect, columns: tuple[str, ...] | None) -> _Prepared:
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=None if columns is None else list(columns))
    assert isinstance(compiled, SQLCompiler) and compiled.positional, "a positional (qmark) dialect"
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    names = tuple(compiled.positiontup or ())
    pieces = _EXPANDING.split(str(compiled))
    expanding = tuple(pieces[1::2])
    if len(set(expanding)) != len(expanding) or any(names.count(name) != 1 for name in expanding):
        raise ValueError("an expanding parameter used twice")
    processors = tuple(_bind_processor(binds[name].type, dialect) for name in names)
    results = tuple((i, process) for i, process in enumerate(_result_processor(column[3], dialect)
                                                              for column in compiled._result_columns)
                    if process is not None)
    return _Prepared(tuple(pieces[0::2]), expanding, names, processors,
                     tuple((i, process) for i, process in enumerate(processors) if process is not None),
                     {name: bind.effective_value for name, bind in binds.items() if not bind.required}, results)


def _bind_processor(type_: Any, dialect: Dialect) -> _Processor:
    """The type's bind processor; for SQLite's datetimes as text (``2026-11-02 10:30:00.000250``)
    one that formats naive datetimes with ``isoformat`` (a third of the cost: the settlement's
    rows have four datetimes each), once shown to write the same text."""
    process: _Processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(type_, DateTime) or \
            any(process(probe) != _iso(probe) for probe in (datetime(2026, 11, 2, 10, 30, 0, 250), datetime(987, 1, 1))):
        return process
    return partial(_naive_iso, process)


def _iso(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


def _naive_iso(otherwise: Callable[[Any], Any], value: Any) -> Any:
    return _iso(value) if type(value) is datetime and value.tzinfo is None else otherwise(value)


def _result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    process: Callable[[Any], Any] | None = type_.dialect_impl(dialect).result_processor(dialect, None)
    return process
