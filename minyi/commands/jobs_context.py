"""The job workers' context from the settings: the database, the wall clock and the phone keys."""

from __future__ import annotations

from jobs.runner import JobContext
from survey.clock import SystemClock
from survey.config import Settings, load_settings
from survey.db import open_sessions
from survey.phones import configured_vault


def job_context(settings: Settings | None = None) -> JobContext:
    settings = settings or load_settings()
    return JobContext(open_sessions(settings.database_url), SystemClock(), configured_vault(settings))
