"""Jinja helpers: local times, bilingual labels, status names, and the navigation of each role."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from analysis.results import Change
from reports import formatting as fmt
from survey.clock import to_local
from survey.phones import redact
from survey.vocabulary import Role
from web.context import centre_name, centre_zone
from web.i18n import language
from web.labels import concern_status, term
from web.operations.transcripts import provider_name
from web.task_notes import note_lines

# role -> (endpoint, label) in menu order; the first is the role's start page
NAVIGATION: dict[str, tuple[tuple[str, Any], ...]] = {
    Role.INTERVIEWER: (("console.queue", _l("Follow-up queue")), ("console.f2f", _l("Door-to-door"))),
    Role.TRANSCRIBER: (("transcribe.index", _l("Recordings")),),
    Role.SUPERVISOR: (("surveys.index", _l("Surveys")), ("live.index", _l("Live view")), ("cases.index", _l("Cases")),
                      ("transcribe.index", _l("Recordings")), ("concerns.index", _l("Concerns")),
                      ("dashboard.index", _l("Dashboard"))),
    Role.OFFICIAL: (("dashboard.index", _l("Dashboard")),),
    Role.UNIT: (("concerns.index", _l("Concerns")),),
    Role.ADMIN: (("admin.users", _l("Users")), ("admin.units", _l("Units")), ("downloads.index", _l("Recording downloads")),
                 ("admin.staff_calls", _l("Staff calls")), ("admin.audit", _l("Audit log"))),
}
TIERS = {"above": _l("above the county"), "same": _l("not shown to differ"), "below": _l("below the county")}


def local_time(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (naive UTC) time as the centre's wall time."""
    return to_local(value, centre_zone()).strftime(pattern) if value else ""


def label(text: Mapping[str, str] | None) -> str:
    """A {zh:..., en:...} text in the page language."""
    if not text:
        return ""
    return text.get(language()) or next(iter(text.values()))


def navigation() -> list[tuple[str, str, bool]]:
    """The role's menu as (address, label, current): the current entry is the one whose address
    is the longest start of this page's (``/console/f2f`` is Door-to-door, ``/console/task/3``
    the queue), so one entry is marked even where a blueprint has several (admin, console)."""
    if not current_user.is_authenticated:
        return []
    entries = [(url_for(endpoint), str(text)) for endpoint, text in NAVIGATION.get(current_user.role, ())]
    current = max((url for url, _text in entries if request.path.startswith(url)), key=len, default=None)
    return [(url, text, url == current) for url, text in entries]


def role_name(role: str) -> str:
    return term("role", role)


def tier_label(tier: str) -> str:
    return str(TIERS.get(tier, tier))


def change_text(change: Change | None, kind: str) -> str:
    return fmt.change(change, kind)


def setup_templates(app: Flask) -> None:
    app.jinja_env.filters.update(local=local_time, label=label, redact=redact)
    app.jinja_env.globals.update(navigation=navigation, language=language, role_name=role_name, term=term,
                                 concern_status=concern_status, tier_label=tier_label, centre_zone=centre_zone,
                                 centre_name=centre_name,
                                 change_text=change_text, note_lines=note_lines, Role=Role,
                                 provider_name=provider_name)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
