"""Numbers and moments from a request, bounded to what the database can hold.

A row id in a path, a query string or a hidden field is at most a signed 64-bit integer (SQLite's
and PostgreSQL's ``bigint``): a larger one raised ``OverflowError`` in the driver, a 500. A moment
or a day typed in a form, or given as a list's filter, is in the years :data:`YEARS`: year 1 in
the centre's zone overflowed when converted to UTC. Out of range is what it is: no such row (404), or a form error.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter, Map
from wtforms import Field, Form, ValidationError

MAX_ID = 2**63 - 1
YEARS = range(2000, 2100)


class RecordIdConverter(IntegerConverter):
    """``<int:...>`` in every route, with the database's bound: a larger id matches no route (404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def record_id(text: str | None) -> int:
    """A row id as a query string or a hidden field gives it: digits, at most :data:`MAX_ID`
    (``ValueError`` otherwise, which ``request.args.get(..., type=record_id)`` takes as absent)."""
    if not text or not text.isdigit() or int(text) > MAX_ID:
        raise ValueError(f"not a record id: {text!r}")
    return int(text)


def plausible(day: date) -> bool:
    """Whether a day (or a moment) is in :data:`YEARS`."""
    return day.year in YEARS


def plausible_moment(_form: Form, field: Field) -> None:
    """A form validator: the day or moment typed is in this century (a callback in year 1 or 9999 is a typo)."""
    if field.data is not None and not plausible(field.data):
        raise ValidationError(_l("Give a date between 2000 and 2099."))
