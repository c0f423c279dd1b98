"""A survey's fieldwork settings as one YAML file: read and checked (:func:`dialer.policy.parse_fieldwork`,
the dialer's own parser), written back with every default filled in, and stored with an audit row.

What is stored is the file as :func:`document` writes it, so the survey's JSON columns always hold
the complete, canonical settings and ``minyi survey settings S`` shows exactly what the dialer uses.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from sqlalchemy.orm import Session

from dialer.policy import (
    WEEKDAYS,
    DialPolicy,
    Fieldwork,
    PacingPolicy,
    PolicyError,
    RetryPolicy,
    parse_fieldwork,
)
from dialer.windows import TimeRange, WindowPolicy
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Survey


class FieldworkFileError(Refused):
    """A fieldwork file that is not a YAML mapping."""


def read(text: str, townships: Iterable[str], *, name: str) -> Fieldwork:
    """The settings of a fieldwork file's text; any problem raises a :class:`~survey.errors.Refused`
    naming the key (or the line, for YAML syntax) and the reason."""
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else "?"
        raise FieldworkFileError("%(name)s:%(line)s: not valid YAML: %(problem)s", name=name, line=line,
                                 problem=exc.problem) from None
    except YAMLError as exc:
        raise FieldworkFileError("%(name)s: not valid YAML: %(problem)s", name=name, problem=str(exc)) from None
    return parse_fieldwork({} if data is None else data, list(townships))


def read_file(path: Path, townships: Iterable[str]) -> Fieldwork:
    """:func:`read` of a file; a problem in a setting is prefixed with the file's name."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FieldworkFileError("%(name)s: cannot read the fieldwork settings: %(problem)s", name=str(path),
                                 problem=str(exc)) from None
    try:
        return read(text, townships, name=str(path))
    except PolicyError as exc:
        raise FieldworkFileError("%(name)s: %(problem)s", name=str(path), problem=str(exc)) from None


def of_survey(survey: Survey) -> Fieldwork:
    """The survey's settings as stored (defaults for what it never set)."""
    return Fieldwork(DialPolicy.from_survey(survey), {s.code: s.quota for s in survey.strata})


def document(fieldwork: Fieldwork) -> dict[str, Any]:
    """The settings as a fieldwork file gives them, every key present."""
    policy = fieldwork.policy
    return {"timezone": policy.windows.timezone, "calling_windows": _windows(policy.windows),
            "holidays": _dates(policy.windows.holidays), "retry_policy": _retry(policy.retry),
            "pacing": _pacing(policy.pacing), "quotas": dict(sorted(fieldwork.quotas.items()))}


def dump(fieldwork: Fieldwork) -> str:
    """:func:`document` as YAML text, in the order of docs/examples/fieldwork.yaml."""
    out = io.StringIO()
    yaml = YAML(typ="rt")  # keeps the keys in document()'s order
    yaml.width = 110
    yaml.default_flow_style = None
    yaml.dump(document(fieldwork), out)
    return out.getvalue()


def store(session: Session, survey: Survey, fieldwork: Fieldwork, clock: Clock, user_id: int | None) -> bool:
    """Put ``fieldwork`` on the survey and its townships and audit what changed; False if nothing did."""
    before = _stored(survey)
    after = document(fieldwork)
    survey.timezone, survey.calling_windows = after["timezone"], after["calling_windows"]
    survey.holidays, survey.retry_policy, survey.pacing = after["holidays"], after["retry_policy"], after["pacing"]
    for stratum in survey.strata:
        stratum.quota = fieldwork.quotas.get(stratum.code, stratum.quota)
    old, new = audit.changed(before, _stored(survey))
    if new:
        audit.record(session, clock, user_id=user_id, action="fieldwork_set", entity="survey",
                     entity_id=survey.id, before=old, after=new)
    return bool(new)


def _stored(survey: Survey) -> dict[str, Any]:
    """The columns as they are (possibly partial, or invalid: a file may repair them)."""
    return {"timezone": survey.timezone, "calling_windows": survey.calling_windows, "holidays": survey.holidays,
            "retry_policy": survey.retry_policy, "pacing": survey.pacing,
            "quotas": {s.code: s.quota for s in survey.strata}}


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _ranges(ranges: Iterable[TimeRange]) -> list[str]:
    return [f"{_clock(r.start)}-{_clock(r.end)}" for r in ranges]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _minutes(delay: timedelta) -> float | int:
    return _number(delay.total_seconds() / 60)


def _dates(days: Iterable[date]) -> list[str]:
    """Dates as ISO dates and runs of consecutive dates as ``first/last``."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [f"{a}" if a == b else f"{a}/{b}" for a, b in runs]


def _windows(w: WindowPolicy) -> dict[str, Any]:
    return {"weekday": _ranges(w.weekday), "weekend": _ranges(w.weekend),
            "days": {WEEKDAYS[i]: _ranges(r) for i, r in sorted(w.days.items())},
            "workdays": _dates(w.workdays),
            "callback": {"evening_start": _clock(w.callback.evening_start),
                         "weekend_start": _clock(w.callback.weekend_start),
                         "min_lead_minutes": _minutes(w.callback.min_lead)}}


def _retry(r: RetryPolicy) -> dict[str, Any]:
    return {"max_attempts": r.max_attempts, "max_per_daypart": r.max_per_daypart, "max_per_day": r.max_per_day,
            "callback_grace": r.callback_grace, "horizon_days": r.horizon_days,
            "release_open_per_remaining": _number(r.release_open_per_remaining),
            "staff_partials": r.staff_partials,
            "refusal_conversion_hours": None if r.refusal_conversion_hours is None else _number(r.refusal_conversion_hours),
            "rules": {k: {"delay_minutes": _minutes(v.delay), "rotate": v.rotate} for k, v in r.rules.items()},
            "dayparts": [{"name": d.name, "days": d.days, "hours": _ranges([d.hours])[0]} for d in r.dayparts]}


def _pacing(p: PacingPolicy) -> dict[str, Any]:
    return {"trunks": [{"name": t.name, "lines": t.lines, "cps": _number(t.cps), "caller_ids": list(t.caller_ids)}
                       for t in p.trunks],
            "ring_timeout_s": p.ring_timeout_s, "lease_seconds": _number(p.lease_seconds),
            "batch_size": p.batch_size, "stratum_overdial": _number(p.stratum_overdial),
            "abandon": {"cap": _number(p.abandon.cap), "window": p.abandon.window},
            "backoff": {"initial_s": _number(p.backoff.initial_s), "max_s": _number(p.backoff.max_s)},
            "caller_id_health": {"window": p.caller_id_health.window,
                                 "min_attempts": p.caller_id_health.min_attempts,
                                 "flag_ratio": _number(p.caller_id_health.flag_ratio),
                                 "auto_rotate": p.caller_id_health.auto_rotate}}
