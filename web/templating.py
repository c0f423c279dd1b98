"""Jinja helpers: local times, bilingual labels, status names, and the navigation of each role."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from analysis.results import Change
from reports import formatting as fmt
from survey.clock import to_local
from survey.phones import redact
from survey.vocabulary import CONCERN_ZH, ConcernStatus, Role, SurveyStatus, TaskKind
from web.i18n import language

DISPLAY_TZ = "Asia/Shanghai"

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
                 ("admin.audit", _l("Audit log"))),
}
ROLE_NAMES: dict[str, Any] = {Role.ADMIN: _l("Administrator"), Role.SUPERVISOR: _l("Supervisor"),
              Role.INTERVIEWER: _l("Interviewer"), Role.TRANSCRIBER: _l("Transcriber"),
              Role.OFFICIAL: _l("Official"), Role.UNIT: _l("Responsible unit")}
SURVEY_STATUS: dict[str, Any] = {SurveyStatus.DRAFT: _l("Draft"), SurveyStatus.ACTIVE: _l("Active"),
                 SurveyStatus.PAUSED: _l("Paused"), SurveyStatus.CLOSED: _l("Closed")}
TIERS = {"above": _l("above the county"), "same": _l("not shown to differ"), "below": _l("below the county")}
TASK_KINDS: dict[str, Any] = {TaskKind.OPERATOR: _l("Asked for a person"), TaskKind.PARTIAL: _l("Partial interview"),
              TaskKind.CALLBACK: _l("Callback due"), TaskKind.REFUSAL_CONVERSION: _l("Refusal conversion"),
              TaskKind.REVISIT: _l("Revisit (回访)"), TaskKind.F2F_VISIT: _l("Door-to-door visit")}
CONCERN_EN: dict[str, str] = {ConcernStatus.RECEIVED: "Received", ConcernStatus.ASSIGNED: "Assigned",
              ConcernStatus.IN_PROGRESS: "In progress", ConcernStatus.RESOLVED: "Resolved",
              ConcernStatus.REVISITED: "Revisited"}


def local_time(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return to_local(value, DISPLAY_TZ).strftime(pattern) if value else ""


def label(text: Mapping[str, str] | None) -> str:
    """A {zh:..., en:...} text in the page language."""
    if not text:
        return ""
    return text.get(language()) or next(iter(text.values()))


def navigation() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    return [(endpoint, str(text)) for endpoint, text in NAVIGATION.get(current_user.role, ())]


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))


def status_label(status: str) -> str:
    return str(SURVEY_STATUS.get(status, status))


def concern_status(status: str) -> str:
    return CONCERN_ZH.get(status, status) if language() == "zh" else CONCERN_EN.get(status, status)


def kind_label(kind: str) -> str:
    return str(TASK_KINDS.get(kind, kind))


def task_kinds() -> dict[str, str]:
    return {kind: str(text) for kind, text in TASK_KINDS.items()}


def tier_label(tier: str) -> str:
    return str(TIERS.get(tier, tier))


def change_text(change: Change | None, kind: str) -> str:
    return fmt.change(change, kind)


def setup_templates(app: Flask) -> None:
    app.jinja_env.filters.update(local=local_time, label=label, redact=redact)
    app.jinja_env.globals.update(navigation=navigation, language=language, role_name=role_name,
                                 status_label=status_label, concern_status=concern_status, tier_label=tier_label,
                                 kind_label=kind_label,
                                 change_text=change_text, Role=Role)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
