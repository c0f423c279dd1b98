"""Engines, sessions and migrations.

``session_scope`` is the unit of work: whoever opens it owns the transaction (commit on success,
rollback on error), so domain functions take a ``Session`` and never commit on their own.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from survey.audit import guard

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout, a larger page cache
    and, for a database file, writers that take turns (:mod:`survey.sqlite_turns`); PostgreSQL gets
    TCP keepalives, no JIT and a check of each pooled connection as it is handed out."""
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
    given = cast(Mapping[str, object], kwargs.pop("connect_args", {}))
    engine = create_engine(url, connect_args=_pg_connect_args(url, given), **kwargs)
    event.listen(engine, "checkout", _check_idle_connection)
    return engine


# Dead peers are found by the kernel (keepalives) rather than by a round trip per checkout.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def _pg_connect_args(url: str, given: Mapping[str, object]) -> dict[str, object]:
    """TCP keepalives, and PostgreSQL's JIT off: it compiled some of the dialer's and the reports'
    queries for 0.1-1.9 s, far longer than they run. The URL's own ``options`` (a search path)
    are kept: connect_args would otherwise replace them."""
    args: dict[str, object] = {**_KEEPALIVES, **given}
    options = make_url(url).query.get("options")
    own = options if isinstance(options, str) else " ".join(options or ())
    args["options"] = " ".join(filter(None, [own, str(args.get("options", "")), "-c jit=off"]))
    return args


def _check_idle_connection(dbapi_conn: object, _record: object, _proxy: object) -> None:
    """Refuse a pooled connection that is closed, broken, or has something to read while idle
    (the server said goodbye: a restart, ``pg_terminate_backend``): the pool then opens a new one.
    One ``poll`` of the socket, no round trip (``pool_pre_ping`` cost a ``SELECT 1`` a request)."""
    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        raise DisconnectionError("the connection was closed")
    poller = select.poll()
    poller.register(dbapi_conn.pgconn.socket, select.POLLIN)  # type: ignore[attr-defined]
    if poller.poll(0):
        raise DisconnectionError("the server closed the idle connection")


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
    _refuse_a_missing_file(url)
    engine = make_engine(url)
    try:
        require_newest_schema(engine)
    except DatabaseNotReady:
        engine.dispose()
        raise
    return session_factory(engine)


def _refuse_a_missing_file(url: str) -> None:
    """A SQLite database file that does not exist (a mistyped or relative path run from another
    folder) is named as such: connecting would leave an empty database and its ``.writers`` file
    there. A folder that does not exist is left to the connection's own error."""
    parsed = make_url(url)
    path = Path(parsed.database or "")
    if (parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
            and path.parent.is_dir() and not path.exists()):
        raise DatabaseNotReady(f"the database {parsed.render_as_string(hide_password=True)} does not exist "
                               f"({path.resolve()}): run `minyi db upgrade` to create it")


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
