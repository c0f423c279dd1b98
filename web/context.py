"""What the app shares with every request: settings, the session factory, the clock, the phone
vault and the analysis provider (``app.extensions["minyi"]``), and the request's database session.

The request owns the transaction, as in indico: views and ``web.operations`` change objects in
:func:`db`; the app commits once after a successful response and rolls back otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from analysis.results import AnalysisResult
from survey.clock import Clock
from survey.config import Settings
from survey.models import Survey
from survey.phones import PhoneVault
from web.i18n import language

Analyse = Callable[[Session, Survey], AnalysisResult]


@dataclass
class WebContext:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    vault: PhoneVault
    analyse: Analyse


def ctx() -> WebContext:
    context: WebContext = current_app.extensions["minyi"]
    return context


def centre_name() -> str:
    """The centre's name in the page's language (``MINYI_CENTRE_NAME``, ``MINYI_CENTRE_NAME_EN``)."""
    settings = ctx().settings
    return settings.centre_name if language() == "zh" else settings.centre_name_en


def centre_zone() -> str:
    """The centre's time zone (``Settings.centre_timezone``): every time a person reads or types."""
    return ctx().settings.centre_timezone


def db() -> Session:
    """The request's session, opened on first use."""
    if "db" not in g:
        g.db = ctx().sessions()
    session: Session = g.db
    return session


def _commit(response: Response) -> Response:
    session: Session | None = g.get("db")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def install(app: Flask, context: WebContext) -> None:
    app.extensions["minyi"] = context
    app.after_request(_commit)
    app.teardown_request(_close)
