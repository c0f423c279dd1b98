"""A database connection lost in the middle of an interview, once.

:class:`LostConnection` watches an engine and breaks the commit of the ``at``-th transaction that
stores an answer: on SQLite the DBAPI connection is closed under it just before the COMMIT
(SQLAlchemy reads "Cannot operate on a closed database" as a disconnect; the transaction is gone), on PostgreSQL the backend is
really terminated (``pg_terminate_backend``) just before the COMMIT goes out. Either way the
transaction is lost and the caller sees an error with ``connection_invalidated`` set, as after a
server restart or a network failure.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError


class LostConnection:
    def __init__(self, engine: Engine, at: int) -> None:
        self.engine, self.at = engine, at
        self.answer_commits = 0
        self.fired = 0
        self.errors: list[DBAPIError] = []
        self._admin: Engine | None = None
        if engine.dialect.name == "postgresql":
            self._admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        event.listen(engine, "handle_error", self._failed)

    def remove(self) -> None:
        event.remove(self.engine, "after_cursor_execute", self._executed)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)
        event.remove(self.engine, "handle_error", self._failed)
        if self._admin is not None:
            self._admin.dispose()

    def _executed(self, conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if "INSERT INTO ANSWERS" in statement.upper():  # alone, or in a CTE (Twilio on PostgreSQL)
            conn.info["answer_written"] = True

    def _rollback(self, conn: Connection) -> None:
        conn.info.pop("answer_written", None)

    def _failed(self, context: Any) -> None:
        if isinstance(context.sqlalchemy_exception, DBAPIError):
            self.errors.append(context.sqlalchemy_exception)

    def _commit(self, conn: Connection) -> None:
        if not conn.info.pop("answer_written", False):
            return
        self.answer_commits += 1
        if self.answer_commits != self.at or self.fired:
            return
        self.fired += 1
        if self._admin is None:  # the DBAPI's COMMIT then finds its connection closed
            # sqlite3's own close (survey.sqlite_turns' would also close its lock file, which
            # SQLAlchemy's close of the broken connection does afterwards)
            sqlite3.Connection.close(conn.connection.dbapi_connection)  # type: ignore[arg-type]
            return
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with self._admin.connect() as admin:
            assert admin.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
