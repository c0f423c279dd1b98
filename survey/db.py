"""Engines, sessions and migrations.

``session_scope`` is the unit of work: whoever opens it owns the transaction (commit on success,
rollback on error), so domain functions take a ``Session`` and never commit on their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from survey.audit import guard

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
# JIT off: the dialer's short statements over a million cases reach the planner's JIT cost
# thresholds, and compiling them took 100-1,900 ms where running them takes a few.
PG_OPTIONS = "-c jit=off"


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout, a larger page cache
    and, for a database file, writers that take turns (:mod:`survey.sqlite_turns`)."""
    if url.startswith("sqlite"):
        connect_args: dict[str, object] = {"timeout": 30, "check_same_thread": False}
        if make_url(url).database not in (None, "", ":memory:") and os.name == "posix":
            from survey.sqlite_turns import TurnTakingConnection

            connect_args["factory"] = TurnTakingConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(_with_pg_options(url), pool_pre_ping=True, **kwargs)


def _with_pg_options(url: str) -> URL:
    """``url`` with :data:`PG_OPTIONS` added to the server options it may set already (the tests'
    search path)."""
    parsed = make_url(url)
    given = parsed.query.get("options")
    options = " ".join([*([given] if isinstance(given, str) else given or ()), PG_OPTIONS])
    return parsed.update_query_dict({"options": options})


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB per connection (default 2 MiB): a round's cases and answers
    cur.execute("PRAGMA temp_store=MEMORY")  # sorts and groupings of the dialer's and the reports' queries
    cur.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``, with the audit log's append-only guard (:func:`survey.audit.guard`)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    guard(factory)
    return factory


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class DatabaseNotReady(RuntimeError):
    """The database cannot be opened, has no Minyi tables, or is at another schema revision."""


def open_sessions(url: str) -> sessionmaker[Session]:
    """Sessions on the database at ``url``, once it is known to be reachable and at the newest
    schema; otherwise :class:`DatabaseNotReady` says what to do (commands other than ``db
    upgrade`` open their database here, so none of them fails half-way on a missing table)."""
    engine = make_engine(url)
    try:
        require_newest_schema(engine)
    except DatabaseNotReady:
        engine.dispose()
        raise
    return session_factory(engine)


def require_newest_schema(engine: Engine) -> None:
    where = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseNotReady(f"cannot open the database {where}: {' '.join(str(exc.orig).split())}") from None
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise DatabaseNotReady(f"the database {where} has no Minyi tables: run `minyi db upgrade` to create them")
    if current in _revisions():
        raise DatabaseNotReady(f"the database {where} is at schema revision {current}, this Minyi needs {head}: "
                               "run `minyi db upgrade`")
    raise DatabaseNotReady(f"the database {where} is at schema revision {current}, which this Minyi does not "
                           "know (was it upgraded by a newer version?)")


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "survey/migrations has no revision"
    return head


def _revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def alembic_config(engine: Engine) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the database to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)  # type: ignore[arg-type]


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (tests check that every migration can be undone)."""
    from alembic import command

    command.downgrade(alembic_config(engine), revision)  # type: ignore[arg-type]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
